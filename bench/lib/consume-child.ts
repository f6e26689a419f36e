/**
 * One consume measurement of bench/consume.ts in a process of its own, so raw
 * amqplib, warren and the peers (bench/peers/) each start from a fresh
 * process and none runs warm in a process the others warmed:
 *   node --import tsx bench/lib/consume-child.ts '<ConsumeSpec as JSON>'
 * Drains `count` jobs already in the `bench` queue and prints
 * `result {"rate":…}`; the clock runs from consume start to the last ack
 * (warren: to the last handled job; the batch worker: to the last batch
 * handed over, whose COMMIT and acks `stop()` then waits for).
 */
import pg from 'pg';
import { pino } from 'pino';
import { z } from 'zod';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory.ts';
import { PostgresIdempotencyStore } from '../../src/idempotency/postgres.ts';
import { RedisIdempotencyStore } from '../../src/idempotency/redis.ts';
import type { IdempotencyStore } from '../../src/idempotency/store.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { benchPlanWith, type BenchQueueType } from './plans.ts';
import { rawConsume } from './raw-amqplib.ts';
import { REDIS_URL } from './redis-keys.ts';

export type StoreKind = 'memory' | 'redis' | 'postgres';

export interface ConsumeSpec {
  side: 'raw' | 'warren';
  url: string;
  prefetch: number;
  count: number;
  queueType?: BenchQueueType;
  /** warren: the idempotency store, and where a persistent one keeps its records. */
  store?: StoreKind;
  table?: string;
  redisPrefix?: string;
  /** warren: a batch worker with batches of this size (PostgreSQL store). */
  batchSize?: number;
}

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** PostgreSQL holds a connection per claim; more than this would crowd a shared server's 100 connections. */
const PG_POOL = 20;

const arg = process.argv[2];
if (arg === undefined) throw new Error("usage: consume-child.ts '<spec JSON>'");
const spec = JSON.parse(arg) as ConsumeSpec;
const rate = spec.side === 'raw' ? await rawConsume(spec.url, 'bench', { prefetch: spec.prefetch, count: spec.count }) : await warren(spec);
// Exits once the line is out: a store or connection left with a timer must not keep the parent waiting.
process.stdout.write(`result ${JSON.stringify({ rate })}\n`, () => process.exit(0));

async function warren(spec: ConsumeSpec): Promise<number> {
  const table = spec.table ?? 'warren_bench_idem';
  const store = openStore(spec.store ?? 'memory', { table, redisPrefix: spec.redisPrefix ?? 'warren-bench-idem:' });
  // With PostgreSQL each job writes one effect row through ctx.tx: the row measures effect-once, not a bare dedup record.
  const effects = spec.store === 'postgres' ? await effectsTable(`${table}_effects`) : undefined;
  if (spec.batchSize !== undefined) return warrenConsumeBatch(spec.url, spec.prefetch, spec.batchSize, spec.count, store, effects);
  return warrenConsume(spec.url, benchPlanWith(spec.prefetch, spec.queueType), spec.count, store, effects);
}

/** The table the PostgreSQL rows write their effects to (dropped with the store's by bench/consume.ts). */
async function effectsTable(name: string): Promise<string> {
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  try {
    await db.query(`CREATE TABLE IF NOT EXISTS ${name} (job_key text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  } finally {
    await db.end();
  }
  return name;
}

/** Jobs/s of a warren batch worker (one PostgreSQL transaction per batch) draining `count` jobs. */
async function warrenConsumeBatch(url: string, prefetch: number, size: number, count: number, store: IdempotencyStore, effects: string | undefined): Promise<number> {
  let handled = 0;
  // Clocked from the first delivery: connecting and subscribing are not consuming (the same for every side).
  let started = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const definition = defineWorker({
    consumer: 'bench',
    schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
    idempotency: store,
    batch: { size, maxWaitMs: 50 },
    handleBatch: async (jobs, ctx) => {
      if (handled === 0) started = performance.now();
      if (effects !== undefined && ctx.tx !== undefined) {
        await ctx.tx.query(`INSERT INTO ${effects} (job_key) SELECT unnest($1::text[])`, [jobs.map((job) => job.payload.key)]);
      }
      handled += jobs.length;
      // Counted when the batch is handed over; its COMMIT and acks follow, so stop() waits for them.
      if (handled >= count) resolveDone();
    },
  });
  const worker = new Worker([definition], benchPlanWith(prefetch), { urls: [url], logger: pino({ level: 'warn' }, pino.destination(2)) });
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
async function warrenConsume(url: string, plan: TopologyPlan, count: number, store: IdempotencyStore, effects: string | undefined): Promise<number> {
  let handled = 0;
  // Clocked from the first delivery: connecting and subscribing are not consuming (the same for every side).
  let started = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const definition = defineWorker({
    consumer: 'bench',
    schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
    idempotency: store,
    handle: async (payload, ctx) => {
      if (started === 0) started = performance.now();
      if (effects !== undefined && ctx.tx !== undefined) await ctx.tx.query(`INSERT INTO ${effects} (job_key) VALUES ($1)`, [payload.key]);
      if (++handled === count) resolveDone();
    },
  });
  const worker = new Worker([definition], plan, { urls: [url], logger: pino({ level: 'warn' }, pino.destination(2)) });
  try {
    await worker.start();
    await done;
    return count / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
    await store.close();
  }
}

