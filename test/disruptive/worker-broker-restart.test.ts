import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import { createLogger } from '../../src/log.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

const JOBS = 400;
const plan = planOf(`
version: 1
exchanges:
  stream: { type: fanout }
consumers:
  steady:
    source: { exchange: stream }
    prefetch: 10
    retry: { delays: [1s] }
`);

let node: PrivateNode;
let worker: Worker | undefined;
const handled = new Set<number>();
// Closed while the broker stops, so the restart lands mid-stream however slow the machine is.
let gate: Promise<void> | undefined;
let openGate: () => void = () => undefined;

beforeAll(async () => {
  node = await startPrivateNode();
  await declarePlanAt(node.amqpUrl, plan);
});

afterAll(async () => {
  await worker?.stop();
  await node?.stop();
});

describe('broker restart while a worker runs', () => {
  it('reconnects, resubscribes and finishes the stream', async () => {
    worker = new Worker(
      [
        defineWorker({
          consumer: 'steady',
          schema: z.object({ n: z.number().int() }),
          handle: async ({ n }) => {
            await new Promise((resolve) => setTimeout(resolve, 50));
            await gate;
            handled.add(n);
          },
        }),
      ],
      plan,
      { urls: [node.amqpUrl], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 },
    );
    await worker.start();
    const publisher = await testPublisher(node.amqpUrl, 'stream');
    for (let n = 0; n < JOBS; n++) await publisher.job('', { n });
    await publisher.close();

    await waitFor('some jobs handled', () => handled.size >= 50, 30_000, 5);
    gate = new Promise<void>((resolve) => (openGate = resolve));
    await node.ctl('stop_app');
    // The restart happened mid-stream, not after it.
    expect(handled.size).toBeLessThan(JOBS);
    openGate();
    await waitFor('the worker to see the broker go', () => worker?.healthy === false, 10_000);
    // A lost connection ends every subscription, and health says which.
    await waitFor('the consumer reported unsubscribed', () => worker?.health().unsubscribed.some((u) => u.consumer === 'steady' && u.queue === 'steady') === true, 10_000);
    await node.ctl('start_app');
    await node.ctl('await_startup');

    await waitFor(`all ${JOBS} jobs handled after the restart`, () => handled.size === JOBS, 90_000, 100);
    expect(worker.health()).toMatchObject({ healthy: true, connected: true, unsubscribed: [] });
    expect(await worker.metrics.registry.getSingleMetricAsString('warren_worker_consumer_resubscribes_total')).toMatch(/consumer="steady",queue="steady"} [1-9]/);
  });
});
