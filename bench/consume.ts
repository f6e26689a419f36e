/**
 * Consume throughput with a no-op handler at prefetch 1 / 10 / 100: raw
 * amqplib manual-ack against a warren `Worker` (decode, validate, dedupe,
 * handle, settle) with the in-memory, Redis and PostgreSQL idempotency
 * stores, and the peers: Rascal on the same queue at the same prefetch,
 * BullMQ draining as many no-op jobs from Redis at that concurrency. Each run
 * drains a queue filled beforehand with the same 512-byte jobs, in a fresh
 * process of its own (bench/lib/consume-child.ts, bench/peers/); the clock
 * runs from consume start to the last ack.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { declarePlanAt } from '../src/topology/declare.ts';
import { registerCleanup } from './lib/cleanup.ts';
import type { ConsumeSpec, StoreKind } from './lib/consume-child.ts';
import { fillJobs } from './lib/jobs.ts';
import { benchPlanWith, type BenchQueueType } from './lib/plans.ts';
import { childResult } from './lib/processes.ts';
import { deleteRedisKeys, REDIS_URL } from './lib/redis-keys.ts';
import { throughputRow, type BenchRow, type Peer } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';
import { bullmqProcess } from './peers/bullmq.ts';
import { measurePeer } from './peers/measure.ts';
import { rascalConsume } from './peers/rascal.ts';

/** Issue 13's targets (warren / raw), by store and prefetch; none where the issue sets none. */
const TARGETS: Record<StoreKind, Partial<Record<number, number>>> = {
  memory: { 1: 0.85, 10: 0.95, 100: 0.95 },
  redis: { 10: 0.7, 100: 0.7 },
  postgres: { 10: 0.4, 100: 0.4 },
};
/** Issue 13: a PostgreSQL batch worker at prefetch 500 within 0.85 of raw. */
const BATCH_TARGET = 0.85;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

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
        const queueType = options.queueType;
        await declarePlanAt(url, benchPlanWith(prefetch, queueType));
        progress(`consume, prefetch ${prefetch}: raw amqplib manual-ack (${count} jobs)`);
        await fillJobs(url, { count, runId: `${runId}-raw-${prefetch}` });
        const raw = await consumeInChild({ side: 'raw', url, prefetch, count });
        const peers = withPeers ? await peersConsume(url, { prefetch, count, runId: `${runId}-peers-${prefetch}`, bullmq: true }) : undefined;
        for (const store of ['memory', 'redis', 'postgres'] as const) {
          progress(`consume, prefetch ${prefetch}: warren worker, ${store} store`);
          await fillJobs(url, { count, runId: `${runId}-${store}-${prefetch}` });
          const rate = await consumeInChild({ side: 'warren', url, prefetch, count, store, table, redisPrefix, ...(queueType !== undefined && { queueType }) });
          const type = queueType === undefined ? '' : `, ${queueType}`;
          rows.push(throughputRow('consume', `no-op handler, prefetch ${prefetch}, ${store} store${type}`, rate, raw, TARGETS[store][prefetch], peers));
        }
      });
    }
    if (options.batch !== undefined) {
      const { prefetch, size, count } = options.batch;
      await inBenchVhost(`consume-batch-${prefetch}`, async ({ url }) => {
        await declarePlanAt(url, benchPlanWith(prefetch));
        progress(`consume, prefetch ${prefetch}: raw amqplib manual-ack (${count} jobs)`);
        await fillJobs(url, { count, runId: `${runId}-raw-batch` });
        const raw = await consumeInChild({ side: 'raw', url, prefetch, count });
        // No BullMQ figure: batches are BullMQ Pro's, and the concurrency rows stop at 100.
        const peers = withPeers ? await peersConsume(url, { prefetch, count, runId: `${runId}-peers-batch`, bullmq: false }) : undefined;
        progress(`consume, prefetch ${prefetch}: warren batch worker (${size} a batch), postgres store`);
        await fillJobs(url, { count, runId: `${runId}-batch` });
        const rate = await consumeInChild({ side: 'warren', url, prefetch, count, store: 'postgres', table, redisPrefix, batchSize: size });
        rows.push(throughputRow('consume', `no-op batch handler (${size}), prefetch ${prefetch}, postgres store`, rate, raw, BATCH_TARGET, peers));
      });
    }
  } finally {
    await dropStoreData(table, redisPrefix);
    unregister();
  }
  return rows;
}

/** Messages/s of one drain in bench/lib/consume-child.ts. */
async function consumeInChild(spec: ConsumeSpec): Promise<number> {
  const result = await childResult<{ rate: number }>(['--import', 'tsx', 'bench/lib/consume-child.ts', JSON.stringify(spec)], {}, 120_000 + spec.count * 20);
  return result.rate;
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

async function dropStoreData(table: string, redisPrefix: string): Promise<void> {
  // Both, even when one server is unreachable; the first failure is reported.
  const dropped = await Promise.allSettled([
    (async () => {
      const db = new pg.Client({ connectionString: DATABASE_URL });
      await db.connect();
      await db.query(`DROP TABLE IF EXISTS ${table}, ${table}_effects`).finally(() => db.end());
    })(),
    deleteRedisKeys(redisPrefix, REDIS_URL),
  ]);
  const failed = dropped.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
