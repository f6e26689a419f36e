import { connect, type ChannelModel } from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PostgresIdempotencyStore } from '../../src/idempotency/postgres.ts';
import { createLogger } from '../../src/log.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createTestVhost, uniqueName, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const plan = planOf(`
version: 1
exchanges:
  jobs: { type: topic }
consumers:
  sink:
    source: { exchange: jobs, pattern: sink }
    prefetch: 20
    retry: { delays: [200ms], maxAttempts: 2 }
`);

const Job = z.object({ n: z.number().int(), fail: z.enum(['once', 'always']).optional() });
const table = uniqueName('batch_ledger').replace(/-/g, '_');
const seen = { batchSizes: [] as number[], txSeen: 0, attempts: new Map<number, number[]>() };

const definition = defineWorker({
  consumer: 'sink',
  schema: Job,
  batch: { size: 10, maxWaitMs: 300 },
  idempotency: () => new PostgresIdempotencyStore({ url: DATABASE_URL, table: `${table}_idem`, poolSize: 4 }),
  handleBatch: async (jobs, ctx) => {
    seen.batchSizes.push(jobs.length);
    if (ctx.tx) seen.txSeen++;
    const rows: Array<[string, number]> = [];
    for (const job of jobs) {
      seen.attempts.set(job.payload.n, [...(seen.attempts.get(job.payload.n) ?? []), job.attempt]);
      // Failed before their effects are written, as the contract asks.
      if (job.payload.fail === 'always' || (job.payload.fail === 'once' && job.attempt === 1)) {
        job.fail(new Error(`job ${job.payload.n} refused on attempt ${job.attempt}`));
        continue;
      }
      rows.push([job.jobId, job.payload.n]);
    }
    if (rows.length === 0 || !ctx.tx) return;
    await ctx.tx.query(`INSERT INTO ${table} (job_id, n) SELECT * FROM unnest($1::text[], $2::int[])`, [rows.map((r) => r[0]), rows.map((r) => r[1])]);
  },
});

let vhost: TestVhost;
let worker: Worker;
let db: pg.Pool;
let inspector: ChannelModel;

beforeAll(async () => {
  vhost = await createTestVhost('worker-batch');
  await declarePlanAt(vhost.url, plan);
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  // No unique key: a doubled effect shows as an extra row.
  await db.query(`CREATE TABLE ${table} (job_id text NOT NULL, n integer NOT NULL)`);
  inspector = await connect(vhost.url);
});

afterAll(async () => {
  await worker?.stop();
  await inspector?.close().catch(() => undefined);
  for (const t of [table, `${table}_idem`]) await db?.query(`DROP TABLE IF EXISTS ${t}`);
  await db?.end();
  await vhost?.cleanup();
});

async function depth(queue: string): Promise<number> {
  const channel = await inspector.createChannel();
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await channel.close();
  }
}

describe('batch worker with the PostgreSQL store', () => {
  it('commits each batch once, sends failed jobs alone to retry/DLQ, and applies a duplicate inside a batch once', async () => {
    const publisher = await testPublisher(vhost.url, 'jobs');
    // The duplicate pair goes first, so both copies land in the first batch.
    await publisher.job('sink', { n: 0 }, { id: 'dup-0' });
    await publisher.job('sink', { n: 0 }, { id: 'dup-0' });
    for (let n = 1; n <= 40; n++) await publisher.job('sink', { n });
    await publisher.job('sink', { n: 100, fail: 'once' });
    await publisher.job('sink', { n: 101, fail: 'once' });
    await publisher.job('sink', { n: 200, fail: 'always' });
    await publisher.job('sink', { n: 201, fail: 'always' });
    await publisher.close();

    worker = new Worker([definition], plan, { urls: [vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 });
    await worker.start();

    await waitFor('43 effects', async () => Number((await db.query(`SELECT count(*) AS c FROM ${table}`)).rows[0].c) >= 43, 30_000, 100);
    await waitFor('2 dead letters', async () => (await depth('sink.dlq')) === 2, 30_000, 100);
    await waitFor('the queue to drain', async () => (await depth('sink')) === 0, 30_000, 100);

    const rows = await db.query<{ n: number; copies: string }>(`SELECT n, count(*) AS copies FROM ${table} GROUP BY n ORDER BY n`);
    const expected = [0, ...Array.from({ length: 40 }, (_, i) => i + 1), 100, 101];
    expect(rows.rows.map((r) => r.n)).toEqual(expected);
    expect(rows.rows.every((r) => Number(r.copies) === 1)).toBe(true);
    // The handler ran with the batch's transaction, and in batches (not one job each).
    expect(seen.txSeen).toBe(seen.batchSizes.length);
    expect(Math.max(...seen.batchSizes)).toBe(10);
    expect(seen.batchSizes.every((size) => size <= 10)).toBe(true);
    // The duplicate reached the handler once; its twin was held back and found done.
    expect(seen.attempts.get(0)).toEqual([1]);
    // A job failed once came back through the retry tier as attempt 2 and committed then.
    expect(seen.attempts.get(100)).toEqual([1, 2]);
    expect(seen.attempts.get(101)).toEqual([1, 2]);
    // Failed for good: attempts run out, dead-lettered, no effect, no dedup record.
    expect(seen.attempts.get(200)).toEqual([1, 2]);
    const idem = await db.query(`SELECT count(*) AS c FROM ${table}_idem`);
    expect(Number(idem.rows[0].c)).toBe(43);
    const text = await worker.metrics.registry.getSingleMetricAsString('warren_worker_duplicates_skipped_total');
    expect(text).toMatch(/consumer="sink"} 1\b/);
  });
});
