import { connect, type ChannelModel, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NonRetryableError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor, type TestPublisher } from '../fixtures/workers/_support.ts';

const plan = planOf(`
version: 1
exchanges:
  jobs: { type: topic }
consumers:
  bulk:
    source: { exchange: jobs, pattern: bulk }
    prefetch: 10
    retry: { delays: [200ms] }
  flaky:
    source: { exchange: jobs, pattern: flaky }
    prefetch: 10
    retry: { delays: [300ms, 600ms], maxAttempts: 4 }
  failing:
    source: { exchange: jobs, pattern: failing }
    prefetch: 10
    retry: { delays: [100ms, 200ms], maxAttempts: 3 }
`);

const Job = z.object({ n: z.number().int() });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// What the handlers saw, for the assertions.
const bulk = { handled: new Map<number, number>(), running: 0, maxRunning: 0 };
const flaky = { attempts: [] as Array<{ attempt: number; at: number }>, succeeded: 0 };
const failing = { calls: 0, others: new Set<number>() };

const definitions = [
  defineWorker({
    consumer: 'bulk',
    schema: Job,
    concurrency: 50, // above prefetch, so only basic.qos limits the unacked count
    handle: async ({ n }) => {
      bulk.running++;
      bulk.maxRunning = Math.max(bulk.maxRunning, bulk.running);
      await sleep(2);
      bulk.handled.set(n, (bulk.handled.get(n) ?? 0) + 1);
      bulk.running--;
    },
  }),
  defineWorker({
    consumer: 'flaky',
    schema: Job,
    handle: async (_job, ctx) => {
      flaky.attempts.push({ attempt: ctx.attempt, at: Date.now() });
      if (ctx.attempt < 3) throw new Error(`transient failure on attempt ${ctx.attempt}`);
      flaky.succeeded++;
    },
  }),
  defineWorker({
    consumer: 'failing',
    schema: Job,
    handle: async ({ n }) => {
      if (n === 0) {
        failing.calls++;
        throw new TypeError('always broken');
      }
      if (n === 999) throw new NonRetryableError('refused for good');
      failing.others.add(n);
    },
  }),
];

let vhost: TestVhost;
let worker: Worker;
let publisher: TestPublisher;
let inspector: ChannelModel;

beforeAll(async () => {
  vhost = await createTestVhost('worker-pipeline');
  await declarePlanAt(vhost.url, plan);
  worker = new Worker(definitions, plan, { urls: [vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 });
  await worker.start();
  publisher = await testPublisher(vhost.url, 'jobs');
  inspector = await connect(vhost.url);
});

afterAll(async () => {
  await publisher?.close().catch(() => undefined);
  await inspector?.close().catch(() => undefined);
  await worker?.stop();
  await vhost?.cleanup();
});

async function queueDepth(queue: string): Promise<number> {
  const channel = await inspector.createChannel();
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await channel.close();
  }
}

async function takeAll(queue: string): Promise<GetMessage[]> {
  const channel = await inspector.createChannel();
  const messages: GetMessage[] = [];
  try {
    for (let message = await channel.get(queue, { noAck: true }); message !== false; message = await channel.get(queue, { noAck: true })) {
      messages.push(message);
    }
  } finally {
    await channel.close();
  }
  return messages;
}

describe('worker pipeline on a real broker', () => {
  it('handles 1,000 jobs with prefetch 10: all acked, none left, never more than 10 unacked', async () => {
    for (let n = 0; n < 1_000; n++) await publisher.job('bulk', { n });
    await publisher.channel.waitForConfirms();
    await waitFor('1,000 jobs handled', () => bulk.handled.size === 1_000);
    // Deliveries are only acked after the handler returns, so handlers
    // running at once never exceed the unacked count the broker allows.
    expect(bulk.maxRunning).toBeLessThanOrEqual(10);
    expect(bulk.maxRunning).toBe(10);
    expect([...bulk.handled.values()].every((count) => count === 1)).toBe(true);
    await waitFor('the work queue to drain', async () => (await queueDepth('bulk')) === 0);
    expect(await queueDepth('bulk.dlq')).toBe(0);
    const text = await worker.metrics.registry.getSingleMetricAsString('warren_worker_succeeded_total');
    expect(text).toMatch(/consumer="bulk"} 1000/);
  });

  it('retries a job failing twice through the tiers and handles it once, on attempt 3', async () => {
    const start = Date.now();
    await publisher.job('flaky', { n: 1 });
    await waitFor('the third attempt', () => flaky.succeeded === 1);
    await sleep(800); // long enough for a wrongly duplicated retry to show up
    expect(flaky.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(flaky.succeeded).toBe(1);
    const [first, second, third] = flaky.attempts;
    // Each attempt waits at least its tier's delay (300 ms, then 600 ms).
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(290);
    expect((third?.at ?? 0) - (second?.at ?? 0)).toBeGreaterThanOrEqual(590);
    expect((third?.at ?? 0) - start).toBeGreaterThanOrEqual(890);
    expect(await queueDepth('flaky.dlq')).toBe(0);
  });

  it('dead-letters an always-failing job after max attempts with its failure context, while the stream keeps flowing', async () => {
    const id = await publisher.job('failing', { n: 0 });
    for (let n = 1; n <= 50; n++) await publisher.job('failing', { n });
    await waitFor('the other jobs', () => failing.others.size === 50);
    // The stream was not held up: the others finished before the poison job's last attempt.
    expect(failing.calls).toBeLessThan(3);
    await waitFor('the job in the DLQ', async () => (await queueDepth('failing.dlq')) === 1);
    expect(failing.calls).toBe(3);
    const [dead] = await takeAll('failing.dlq');
    const headers = dead?.properties.headers ?? {};
    expect(dead?.properties.messageId).toBe(id);
    expect(dead?.properties.type).toBe('failing');
    expect(dead?.properties.contentType).toBe('application/json');
    expect(JSON.parse(dead?.content.toString() ?? '')).toEqual({ n: 0 });
    expect(headers[HEADERS.reason]).toBe('attempts-exhausted');
    expect(headers[HEADERS.errorClass]).toBe('TypeError');
    expect(headers[HEADERS.errorMessage]).toBe('always broken');
    expect(String(headers[HEADERS.errorStack])).toContain('TypeError: always broken');
    expect(headers[HEADERS.attempts]).toBe(3);
    expect(headers[HEADERS.worker]).toBe(worker.workerId);
    expect(headers[HEADERS.consumer]).toBe('failing');
    expect(headers[HEADERS.originExchange]).toBe('jobs');
    expect(headers[HEADERS.originRoutingKey]).toBe('failing');
    expect(Number.isNaN(Date.parse(String(headers[HEADERS.firstFailedAt])))).toBe(false);
  });

  it('sends a NonRetryableError straight to the DLQ', async () => {
    await publisher.job('failing', { n: 999 });
    await waitFor('the job in the DLQ', async () => (await queueDepth('failing.dlq')) === 1);
    const [dead] = await takeAll('failing.dlq');
    expect(dead?.properties.headers?.[HEADERS.reason]).toBe('non-retryable');
    expect(dead?.properties.headers?.[HEADERS.attempts]).toBe(1);
  });

  it('dead-letters a poison message and a schema failure at once, with their reason', async () => {
    const before = failing.calls;
    const poison = await publisher.job('failing', null, { raw: Buffer.from('{not json') });
    const invalid = await publisher.job('failing', { n: 'seven' });
    await waitFor('both in the DLQ', async () => (await queueDepth('failing.dlq')) === 2);
    const dead = await takeAll('failing.dlq');
    const byId = new Map(dead.map((m) => [m.properties.messageId as string, m]));
    const poisonHeaders = byId.get(poison)?.properties.headers ?? {};
    expect(poisonHeaders[HEADERS.reason]).toBe('malformed');
    expect(poisonHeaders[HEADERS.attempts]).toBe(1);
    expect(poisonHeaders[HEADERS.errorMessage]).toMatch(/not valid JSON/);
    expect(byId.get(poison)?.content.toString()).toBe('{not json');
    const invalidHeaders = byId.get(invalid)?.properties.headers ?? {};
    expect(invalidHeaders[HEADERS.reason]).toBe('invalid-payload');
    expect(invalidHeaders[HEADERS.errorMessage]).toMatch(/n:/);
    expect(failing.calls).toBe(before);
  });

  it('handles the same job id published twice once', async () => {
    const before = bulk.handled.size;
    await publisher.job('bulk', { n: 5_000 }, { id: 'same-job' });
    await publisher.job('bulk', { n: 5_000 }, { id: 'same-job' });
    await waitFor('the job handled', () => bulk.handled.has(5_000));
    await waitFor('both deliveries settled', async () => {
      const text = await worker.metrics.registry.getSingleMetricAsString('warren_worker_duplicates_skipped_total');
      return /consumer="bulk"} 1/.test(text);
    });
    expect(bulk.handled.get(5_000)).toBe(1);
    expect(bulk.handled.size).toBe(before + 1);
  });
});
