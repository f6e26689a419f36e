import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createJobClient, InvalidJobOptionError, type JobClient } from '../../src/client/index.ts';
import { createLogger } from '../../src/log.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';

/** Priorities: with a backlog, a worker takes the higher-priority jobs first. */
const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
jobs:
  mail.send:
    exchange: shop
    priority: { max: 9, default: 2 }
    schema: { type: object, required: [n, p], properties: { n: { type: integer }, p: { type: integer } } }
consumers:
  mailer:
    source: { exchange: shop, pattern: "mail.*" }
    queueOptions: { type: classic }
    prefetch: 1
`);

type Jobs = { 'mail.send': { n: number; p: number } };
const BACKLOG = 200;

let vhost: TestVhost;
let client: JobClient<Jobs>;
let worker: Worker | undefined;

beforeAll(async () => {
  vhost = await createTestVhost('priorities');
  await declarePlanAt(vhost.url, plan);
  client = await createJobClient<Jobs>({ topology: plan, amqpUrls: [vhost.url] });
});

afterAll(async () => {
  await worker?.stop();
  await client?.close();
  await vhost?.cleanup();
});

describe('priorities', () => {
  it('the consumer queue is declared with x-max-priority from the job type', () => {
    expect(plan.queues.find((q) => q.name === 'mailer')?.arguments['x-max-priority']).toBe(9);
  });

  it(`a backlog of ${BACKLOG} jobs of random priorities is consumed highest priority first`, async () => {
    const sent: Array<{ n: number; p: number }> = [];
    for (let n = 0; n < BACKLOG; n++) {
      const p = Math.floor(Math.random() * 10);
      sent.push({ n, p });
      await client.enqueue('mail.send', { n, p }, { priority: p });
    }
    await client.enqueue('mail.send', { n: BACKLOG, p: 2 }); // the job type's default priority
    const handled: number[] = [];
    worker = new Worker(
      [defineWorker({ consumer: 'mailer', schema: z.object({ n: z.number(), p: z.number() }), handle: async ({ p }) => void handled.push(p) })],
      plan,
      { urls: [vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 },
    );
    await worker.start();
    await waitFor('the backlog handled', () => handled.length === BACKLOG + 1);
    // Priorities never go up along the order (the first delivery may race the
    // backlog by one prefetch slot, so compare from the second on).
    const rises = handled.slice(1).filter((p, i) => i > 0 && p > (handled[i] ?? 0));
    expect(rises).toEqual([]);
    expect([...handled].sort((a, b) => b - a)).toEqual([...sent.map((s) => s.p), 2].sort((a, b) => b - a));
  });

  it('refuses a priority out of the range', async () => {
    await expect(client.enqueue('mail.send', { n: 0, p: 0 }, { priority: 10 })).rejects.toBeInstanceOf(InvalidJobOptionError);
  });
});
