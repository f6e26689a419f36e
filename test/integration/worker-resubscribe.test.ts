import { createServer } from 'node:net';
import { connect, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { encodeVhost } from '../../src/broker/management.ts';
import { createLogger } from '../../src/log.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor, type TestPublisher } from '../fixtures/workers/_support.ts';

/**
 * A consumer the broker cancels (here: its queue deleted, then declared
 * again as `topology apply` would) comes back by itself, and the worker's
 * `/healthz` says 503 and names the queue for as long as it is gone.
 */
const plan = planOf(`
version: 1
exchanges:
  jobs: { type: topic }
consumers:
  plain:
    source: { exchange: jobs, pattern: plain }
    retry: { delays: [1s] }
  sharded:
    source: { exchange: jobs, pattern: sharded }
    shards: 3
    retry: { delays: [100ms] }
`);

const Job = z.object({ n: z.number().int() });
const handled = { plain: new Set<number>(), sharded: new Set<number>() };
const shardQueues = plan.consumers.find((c) => c.name === 'sharded')?.queues ?? [];

let vhost: TestVhost;
let worker: Worker;
let publisher: TestPublisher;
let admin: ChannelModel;
let base: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  vhost = await createTestVhost('worker-resubscribe');
  await declarePlanAt(vhost.url, plan);
  worker = new Worker(
    [
      defineWorker({ consumer: 'plain', schema: Job, handle: async ({ n }) => void handled.plain.add(n) }),
      defineWorker({ consumer: 'sharded', schema: Job, handle: async ({ n }) => void handled.sharded.add(n) }),
    ],
    plan,
    {
      urls: [vhost.url],
      logger: createLogger('test', { level: 'silent', pretty: false }),
      shutdownTimeoutMs: 2_000,
      metricsPort: await freePort(),
      defaultMetrics: false,
    },
  );
  await worker.start();
  base = `http://127.0.0.1:${worker.metricsPort}`;
  publisher = await testPublisher(vhost.url, 'jobs');
  admin = await connect(vhost.url);
});

afterAll(async () => {
  await publisher?.close().catch(() => undefined);
  await admin?.close().catch(() => undefined);
  await worker?.stop();
  await vhost?.cleanup();
});

interface HealthBody {
  status: string;
  unsubscribed?: Array<{ consumer: string; queue: string; reason: string }>;
}

async function healthz(): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`${base}/healthz`);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

async function metric(line: RegExp): Promise<string | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text.split('\n').find((l) => line.test(l));
}

async function deleteQueue(queue: string): Promise<void> {
  const channel = await admin.createChannel();
  await channel.deleteQueue(queue);
  await channel.close();
}

/** Straight into one queue through the default exchange, past any binding. */
async function sendTo(queue: string, n: number): Promise<void> {
  publisher.channel.sendToQueue(queue, Buffer.from(JSON.stringify({ n })), { persistent: true, contentType: 'application/json', messageId: `${queue}-${n}` });
  await publisher.channel.waitForConfirms();
}

async function consumersOf(queue: string): Promise<number> {
  const info = await vhost.management.get<{ consumers?: number }>(`/queues/${encodeVhost(vhost.vhost)}/${encodeURIComponent(queue)}`);
  return info?.consumers ?? 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('consumers the broker cancelled come back', () => {
  it('starts healthy, with every queue subscribed', async () => {
    expect(await healthz()).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await metric(/^warren_worker_consumer_subscribed\{consumer="plain",queue="plain"\}/)).toMatch(/ 1$/);
  });

  it('a deleted and re-declared work queue: 503 naming it during the gap, then consuming again', async () => {
    await deleteQueue('plain');
    await waitFor('/healthz to say 503', async () => (await healthz()).status === 503, 10_000);
    // Still down while the queue does not exist: the worker waits for it.
    await sleep(1_500);
    const gap = await healthz();
    expect(gap.status).toBe(503);
    expect(gap.body.status).toBe('unavailable');
    expect(gap.body.unsubscribed?.map(({ consumer, queue }) => ({ consumer, queue }))).toEqual([{ consumer: 'plain', queue: 'plain' }]);
    expect(gap.body.unsubscribed?.[0]?.reason).toMatch(/NOT_FOUND|cancelled/);
    expect(await metric(/^warren_worker_consumer_subscribed\{consumer="plain",queue="plain"\}/)).toMatch(/ 0$/);
    // The other consumer is unaffected meanwhile.
    await sendTo(shardQueues[0] ?? '', 1_000);
    await waitFor('the other consumer to keep working', () => handled.sharded.has(1_000), 10_000);

    await declarePlanAt(vhost.url, plan);
    await waitFor('/healthz to say 200 again', async () => (await healthz()).status === 200, 20_000);
    for (let n = 1; n <= 20; n++) await publisher.job('plain', { n });
    await waitFor('new jobs processed', () => handled.plain.size === 20, 20_000);
    // The management API's view lags a few seconds behind the broker.
    await waitFor('the broker to list the consumer', async () => (await consumersOf('plain')) === 1, 20_000, 250);
    expect(await metric(/^warren_worker_consumer_subscribed\{consumer="plain",queue="plain"\}/)).toMatch(/ 1$/);
    expect(await metric(/^warren_worker_consumer_resubscribes_total\{consumer="plain",queue="plain"\}/)).toMatch(/ 1$/);
  });

  it('a sharded consumer with one shard queue deleted: only that shard is named, the others keep consuming, and it comes back', async () => {
    const [first, second, third] = shardQueues;
    if (first === undefined || second === undefined || third === undefined) throw new Error('expected 3 shard queues');
    await deleteQueue(second);
    await waitFor('/healthz to say 503', async () => (await healthz()).status === 503, 10_000);
    const gap = await healthz();
    expect(gap.body.unsubscribed?.map(({ consumer, queue }) => ({ consumer, queue }))).toEqual([{ consumer: 'sharded', queue: second }]);
    // The 404s of the missing shard never reach the channels of its siblings.
    await sleep(1_500);
    await sendTo(first, 2_001);
    await sendTo(third, 2_003);
    await waitFor('the other shards to keep consuming', () => handled.sharded.has(2_001) && handled.sharded.has(2_003), 10_000);
    expect((await healthz()).status).toBe(503);

    await declarePlanAt(vhost.url, plan);
    await waitFor('/healthz to say 200 again', async () => (await healthz()).status === 200, 20_000);
    await sendTo(second, 2_002);
    await waitFor('the re-declared shard consumed again', () => handled.sharded.has(2_002), 10_000);
    await waitFor('the broker to list one consumer per shard', async () => (await Promise.all(shardQueues.map(consumersOf))).every((c) => c === 1), 20_000, 250);
    expect(await metric(new RegExp(`^warren_worker_consumer_resubscribes_total\\{consumer="sharded",queue="${second.replace(/\./g, '\\.')}"\\}`))).toMatch(/ 1$/);
  });
});
