/**
 * Consume throughput with a no-op handler at prefetch 1 / 10 / 100: raw
 * amqplib manual-ack against a warren `Worker` (decode, validate, dedupe,
 * handle, settle) with the in-memory, Redis and PostgreSQL idempotency
 * stores. Each run drains a queue filled beforehand with the same 512-byte
 * jobs; the clock runs from consume start to the last ack.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import { MemoryIdempotencyStore } from '../src/idempotency/memory.ts';
import { PostgresIdempotencyStore } from '../src/idempotency/postgres.ts';
import { RedisIdempotencyStore } from '../src/idempotency/redis.ts';
import type { IdempotencyStore } from '../src/idempotency/store.ts';
import { pino } from 'pino';
import { declarePlanAt } from '../src/topology/declare.ts';
import type { TopologyPlan } from '../src/topology/plan.ts';
import { defineWorker, Worker } from '../src/worker/index.ts';
import { fillJobs } from './lib/jobs.ts';
import { benchPlanWith, type BenchQueueType } from './lib/plans.ts';
import { rawConsume } from './lib/raw-amqplib.ts';
import { deleteRedisKeys } from './lib/redis-keys.ts';
import { registerCleanup } from './lib/cleanup.ts';
import { throughputRow, type BenchRow, type Peer } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';
import { bullmqProcess } from './peers/bullmq.ts';
import { measurePeer } from './peers/measure.ts';
import { rascalConsume } from './peers/rascal.ts';

export type StoreKind = 'memory' | 'redis' | 'postgres';
const TARGETS: Record<StoreKind, number> = { memory: 0.85, redis: 0.5, postgres: 0.3 };
/** Issue 13: a PostgreSQL batch worker at prefetch 500 within 0.85 of raw. */
const BATCH_TARGET = 0.85;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** PostgreSQL holds a connection per claim; more than this would crowd a shared server's 100 connections. */
const PG_POOL = 20;

export interface ConsumeBenchOptions {
  prefetches: readonly number[];
  /** Jobs per run at a prefetch (fewer at prefetch 1, where each job is a round trip). */
  count: (prefetch: number) => number;
  /** The batch-handler row (PostgreSQL store): prefetch, batch size, jobs. */
  batch?: { prefetch: number; size: number; count: number };
  /** Type of the consumed queue (raw and warren alike); default: the topology default, quorum. */
  queueType?: BenchQueueType;
  /** Measure Rascal and BullMQ beside raw (default true). */
  peers?: boolean;
}

export async function benchConsume(options: ConsumeBenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const runId = randomBytes(4).toString('hex');
  const table = `warren_bench_idem_${runId}`;
  const redisPrefix = `warren-bench-${runId}:`;
  const unregister = registerCleanup(`table ${table} and Redis keys ${redisPrefix}*`, () => dropStoreData(table, redisPrefix));
  const withPeers = options.peers ?? true;
  try {
    for (const prefetch of options.prefetches) {
      const count = options.count(prefetch);
      await inBenchVhost(`consume-${prefetch}`, async ({ url }) => {
        const plan = benchPlanWith(prefetch, options.queueType);
        await declarePlanAt(url, plan);
        progress(`consume, prefetch ${prefetch}: raw amqplib manual-ack (${count} jobs)`);
        await fillJobs(url, { count, runId: `${runId}-raw-${prefetch}` });
        const raw = await rawConsume(url, 'bench', { prefetch, count });
        const peers = withPeers ? await peersConsume(url, { prefetch, count, runId: `${runId}-peers-${prefetch}`, bullmq: true }) : undefined;
        for (const kind of ['memory', 'redis', 'postgres'] as const) {
          progress(`consume, prefetch ${prefetch}: warren worker, ${kind} store`);
          await fillJobs(url, { count, runId: `${runId}-${kind}-${prefetch}` });
          const store = openStore(kind, { table, redisPrefix });
          const rate = await warrenConsume(url, plan, count, store);
          const type = options.queueType === undefined ? '' : `, ${options.queueType}`;
          rows.push(throughputRow('consume', `no-op handler, prefetch ${prefetch}, ${kind} store${type}`, rate, raw, TARGETS[kind], peers));
        }
      });
    }
    if (options.batch !== undefined) {
      const { prefetch, size, count } = options.batch;
      await inBenchVhost(`consume-batch-${prefetch}`, async ({ url }) => {
        await declarePlanAt(url, benchPlanWith(prefetch));
        progress(`consume, prefetch ${prefetch}: raw amqplib manual-ack (${count} jobs)`);
        await fillJobs(url, { count, runId: `${runId}-raw-batch` });
        const raw = await rawConsume(url, 'bench', { prefetch, count });
        // No BullMQ figure: batches are BullMQ Pro's, and the concurrency rows stop at 100.
        const peers = withPeers ? await peersConsume(url, { prefetch, count, runId: `${runId}-peers-batch`, bullmq: false }) : undefined;
        progress(`consume, prefetch ${prefetch}: warren batch worker (${size} a batch), postgres store`);
        await fillJobs(url, { count, runId: `${runId}-batch` });
        const store = openStore('postgres', { table, redisPrefix });
        const rate = await warrenConsumeBatch(url, prefetch, size, count, store);
        rows.push(throughputRow('consume', `no-op batch handler (${size}), prefetch ${prefetch}, postgres store`, rate, raw, BATCH_TARGET, peers));
      });
    }
  } finally {
    await dropStoreData(table, redisPrefix);
    unregister();
  }
  return rows;
}

/**
 * The peers doing the same consume as raw: Rascal on the same queue (refilled
 * with the same jobs) at the same prefetch, and BullMQ draining as many no-op
 * jobs from Redis at that concurrency. A peer that fails gets NaN (the table
 * says "failed", the run exits 1) so warren's rows are still measured.
 */
async function peersConsume(url: string, options: { prefetch: number; count: number; runId: string; bullmq: boolean }): Promise<Partial<Record<Peer, number>>> {
  const { prefetch, count } = options;
  const peers: Partial<Record<Peer, number>> = {};
  progress(`consume, prefetch ${prefetch}: Rascal (${count} jobs)`);
  peers.rascal = await measurePeer('Rascal', async () => {
    await fillJobs(url, { count, runId: `${options.runId}-rascal` });
    return rascalConsume(url, 'bench', { prefetch, count });
  });
  if (options.bullmq) {
    progress(`consume, concurrency ${prefetch}: BullMQ (${count} jobs)`);
    peers.bullmq = await measurePeer('BullMQ', () => bullmqProcess({ count, concurrency: prefetch }));
  }
  return peers;
}

/** Jobs/s of a warren batch worker (one PostgreSQL transaction per batch) draining `count` jobs. */
async function warrenConsumeBatch(url: string, prefetch: number, size: number, count: number, store: IdempotencyStore): Promise<number> {
  let handled = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const definition = defineWorker({
    consumer: 'bench',
    schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
    idempotency: store,
    batch: { size, maxWaitMs: 50 },
    handleBatch: (jobs) => {
      handled += jobs.length;
      // Counted when the batch is handed over; its COMMIT and acks follow, so stop() waits for them.
      if (handled >= count) resolveDone();
    },
  });
  const worker = new Worker([definition], benchPlanWith(prefetch), { urls: [url], logger: pino({ level: 'warn' }, pino.destination(2)) });
  const started = performance.now();
  try {
    await worker.start();
    await done;
    return count / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
    await store.close();
  }
}

function openStore(kind: StoreKind, names: { table: string; redisPrefix: string }): IdempotencyStore {
  if (kind === 'memory') return new MemoryIdempotencyStore();
  if (kind === 'redis') return new RedisIdempotencyStore({ url: REDIS_URL, prefix: names.redisPrefix });
  return new PostgresIdempotencyStore({ url: DATABASE_URL, table: names.table, poolSize: PG_POOL });
}

/** Jobs/s of a warren worker draining `count` jobs from the `bench` queue. */
async function warrenConsume(url: string, plan: TopologyPlan, count: number, store: IdempotencyStore): Promise<number> {
  let handled = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const definition = defineWorker({
    consumer: 'bench',
    schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
    idempotency: store,
    handle: () => {
      if (++handled === count) resolveDone();
    },
  });
  const worker = new Worker([definition], plan, { urls: [url], logger: pino({ level: 'warn' }, pino.destination(2)) });
  const started = performance.now();
  try {
    await worker.start();
    await done;
    return count / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
    await store.close();
  }
}

async function dropStoreData(table: string, redisPrefix: string): Promise<void> {
  // Both, even when one server is unreachable; the first failure is reported.
  const dropped = await Promise.allSettled([
    (async () => {
      const db = new pg.Client({ connectionString: DATABASE_URL });
      await db.connect();
      await db.query(`DROP TABLE IF EXISTS ${table}`).finally(() => db.end());
    })(),
    deleteRedisKeys(redisPrefix, REDIS_URL),
  ]);
  const failed = dropped.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
