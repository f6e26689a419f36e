import { Redis } from 'ioredis';
import { PostgresIdempotencyStore } from '../../../src/idempotency/postgres.ts';
import { defineWorker, NonRetryableError, type JobContext, type WorkerDefinition } from '../../../src/worker/index.ts';
import { chaosNames } from '../lib/names.ts';

/**
 * The chaos suite's consumers of topology/orders.yaml (same consumer names
 * as workers/). Each handler writes ONE effect row per (consumer, job id)
 * through `ctx.tx`, the PostgreSQL transaction that also records the job id,
 * so a killed worker's effect rolls back with its claim. The effect table has
 * no unique key on purpose: a doubled effect would show as a second row.
 * Every handler run (including ones that roll back) is counted in Redis.
 * Orders whose customer is `poison-*` are refused for good (→ DLQ).
 */
const CONCURRENCY = 8;

export interface ChaosPayload {
  orderId: string;
  customerId?: string;
}

export function chaosWorker(consumer: string, options: { pauseMs: number; ordered?: boolean }): WorkerDefinition {
  const run = process.env.CHAOS_RUN;
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!run || !databaseUrl || !redisUrl) throw new Error('chaos workers need CHAOS_RUN, DATABASE_URL and REDIS_URL');
  const names = chaosNames(run);
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // Payloads are checked against topology/orders.yaml's JSON Schemas by the worker.
  return defineWorker<ChaosPayload>({
    consumer,
    concurrency: CONCURRENCY,
    timeoutMs: 10_000,
    idempotency: () => new PostgresIdempotencyStore({ url: databaseUrl, table: names.idempotencyTable, poolSize: CONCURRENCY + 1 }),
    handle: async (payload, ctx) => {
      await redis.incr(names.runsKey(consumer)).catch(() => undefined);
      if (payload.customerId?.startsWith('poison-')) throw new NonRetryableError(`poison order ${payload.orderId}`);
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      await recordEffect(consumer, payload, ctx, names.effectsTable, options.ordered === true);
    },
  });
}

async function recordEffect(consumer: string, payload: ChaosPayload, ctx: JobContext, table: string, ordered: boolean): Promise<void> {
  if (!ctx.tx) throw new Error('chaos workers need the PostgreSQL idempotency store (ctx.tx)');
  const event = ctx.jobType ?? 'unknown';
  // The ordered consumer checks, inside its transaction, that an order's
  // cancellation never comes before its creation was applied.
  let outOfOrder = false;
  if (ordered && event === 'order.cancelled') {
    const created = await ctx.tx.query(`SELECT 1 FROM ${table} WHERE consumer = $1 AND order_id = $2 AND event = 'order.created'`, [consumer, payload.orderId]);
    outOfOrder = created.rows.length === 0;
  }
  await ctx.tx.query(`INSERT INTO ${table} (consumer, job_id, order_id, event, out_of_order) VALUES ($1, $2, $3, $4, $5)`, [
    consumer,
    ctx.jobId,
    payload.orderId,
    event,
    outOfOrder,
  ]);
}
