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

/**
 * Retry and DLQ copies never expire by accident (persistent, no per-message
 * `expiration`), and a dead letter says when the job first failed.
 */
const plan = planOf(`
version: 1
exchanges:
  jobs: { type: topic }
consumers:
  refuse:
    source: { exchange: jobs, pattern: refuse }
    retry: { delays: [1s] }
  slowretry:
    source: { exchange: jobs, pattern: slowretry }
    retry: { delays: [2s], maxAttempts: 2 }
  thrice:
    source: { exchange: jobs, pattern: thrice }
    retry: { delays: [500ms, 700ms], maxAttempts: 3 }
`);

const Job = z.object({ n: z.number().int() });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const slowretry: Array<{ attempt: number; at: number }> = [];
const thrice: Array<{ attempt: number; startedAt: number; failedAt: number }> = [];

const definitions = [
  defineWorker({
    consumer: 'refuse',
    schema: Job,
    handle: async () => {
      throw new NonRetryableError('refused for good');
    },
  }),
  defineWorker({
    consumer: 'slowretry',
    schema: Job,
    handle: async (_job, ctx) => {
      slowretry.push({ attempt: ctx.attempt, at: Date.now() });
      if (ctx.attempt === 1) throw new Error('transient');
    },
  }),
  defineWorker({
    consumer: 'thrice',
    schema: Job,
    handle: async (_job, ctx) => {
      const startedAt = Date.now();
      await sleep(20);
      thrice.push({ attempt: ctx.attempt, startedAt, failedAt: Date.now() });
      throw new Error(`failure ${ctx.attempt}`);
    },
  }),
];

let vhost: TestVhost;
let worker: Worker;
let publisher: TestPublisher;
let inspector: ChannelModel;

beforeAll(async () => {
  vhost = await createTestVhost('worker-copies');
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

describe('retry and DLQ copies on a real broker', () => {
  it('keeps a dead letter well past the job’s per-message TTL, and makes a transient job’s dead letter persistent', async () => {
    const expiring = await publisher.job('refuse', { n: 1 }, { properties: { expiration: '1500' } });
    const transient = await publisher.job('refuse', { n: 2 }, { properties: { persistent: false } });
    await publisher.channel.waitForConfirms();
    await waitFor('both in the DLQ', async () => (await queueDepth('refuse.dlq')) === 2);
    // Well past the 1.5 s TTL the job was published with.
    await sleep(4_000);
    expect(await queueDepth('refuse.dlq')).toBe(2);
    const dead = new Map((await takeAll('refuse.dlq')).map((m) => [m.properties.messageId as string, m]));
    for (const id of [expiring, transient]) {
      expect(dead.get(id)?.properties.deliveryMode).toBe(2);
      expect(dead.get(id)?.properties.expiration).toBeUndefined();
      expect(dead.get(id)?.properties.headers?.[HEADERS.reason]).toBe('non-retryable');
    }
  });

  it('lets the retry tier alone decide the delay of a job with a shorter per-message TTL', async () => {
    await publisher.job('slowretry', { n: 1 }, { properties: { expiration: '300', persistent: false } });
    await publisher.channel.waitForConfirms();
    await waitFor('the second attempt', () => slowretry.length === 2, 20_000);
    const [first, second] = slowretry;
    expect(second?.attempt).toBe(2);
    // The tier's 2 s queue TTL, not the job's 300 ms, held the copy back.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1_900);
    expect(await queueDepth('slowretry.dlq')).toBe(0);
  });

  it('stamps the first failure’s time on a job dead-lettered after two retries', async () => {
    await publisher.job('thrice', { n: 1 });
    await publisher.channel.waitForConfirms();
    await waitFor('the job in the DLQ', async () => (await queueDepth('thrice.dlq')) === 1, 20_000);
    const [dead] = await takeAll('thrice.dlq');
    const headers = dead?.properties.headers ?? {};
    expect(headers[HEADERS.attempts]).toBe(3);
    expect(thrice.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = thrice;
    const firstFailedAt = Date.parse(String(headers[HEADERS.firstFailedAt]));
    const failedAt = Date.parse(String(headers[HEADERS.failedAt]));
    // The first attempt's failure: after it started, before the second began.
    expect(firstFailedAt).toBeGreaterThanOrEqual(first?.failedAt ?? Infinity);
    expect(firstFailedAt).toBeLessThan(second?.startedAt ?? 0);
    // The dead-lettering time is the last attempt's failure.
    expect(failedAt).toBeGreaterThanOrEqual(third?.failedAt ?? Infinity);
    expect(dead?.properties.deliveryMode).toBe(2);
  });
});
