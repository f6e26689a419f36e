import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { z } from 'zod';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { brokerUrl, createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';
import { withVhost } from '../../src/broker/urls.ts';

// The vhost rule: a topology that names a vhost wins over AMQP_URL's, for
// the producer and the workers alike. Both are given the root-vhost URL.
let vhost: TestVhost;
let producer: RunningProducer;
let worker: Worker;
const handled: string[] = [];

beforeAll(async () => {
  vhost = await createTestVhost('warren-topology-vhost');
  const plan = planOf(`
version: 1
vhost: ${vhost.vhost}
exchanges:
  jobs: { type: topic }
jobs:
  ping: { exchange: jobs, routingKey: ping, schema: { type: object, properties: { n: { type: integer } }, required: [n] } }
consumers:
  pinger:
    source: { exchange: jobs, pattern: ping }
`);
  await declarePlanAt(vhost.url, plan);
  const rootUrl = withVhost(brokerUrl(), '/');
  producer = await startProducer({ plan, amqpUrls: [rootUrl], managementUrl: vhost.managementUrl, port: 0, apiTokens: 'vhost-test-token:enqueue', logger: pino({ level: 'silent' }) });
  worker = new Worker(
    [defineWorker({ consumer: 'pinger', schema: z.object({ n: z.number().int() }), handle: async ({ n }, ctx) => void handled.push(`${n}:${ctx.jobId}`) })],
    plan,
    { urls: [rootUrl], logger: pino({ level: 'silent' }), shutdownTimeoutMs: 2_000 },
  );
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await producer?.close();
  await vhost?.cleanup();
});

describe("the topology's vhost wins over AMQP_URL's", () => {
  it('serve publishes into the named vhost and the worker consumes there: one job end to end', async () => {
    let status = 0;
    let body: { id?: string } = {};
    await waitFor('the producer to accept the job', async () => {
      const response = await fetch(`${producer.url}/v1/jobs/ping`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer vhost-test-token' },
        body: JSON.stringify({ n: 7 }),
      });
      status = response.status;
      body = (await response.json()) as { id?: string };
      return status !== 503;
    });
    expect(status).toBe(202);
    await waitFor('the worker to handle the job', () => handled.length === 1);
    expect(handled).toEqual([`7:${body.id}`]);
  });
});
