/**
 * "consume with history on vs off" (issue 14): the same warren worker
 * (no-op handler, in-memory idempotency store) drains the same jobs with the
 * job history off, then on (writing every attempt to PostgreSQL through the
 * batched writer). The "on" clock stops only once the last attempt row is
 * written, so the figure includes the history catching up. Runs alternate
 * off/on and the median of each is kept. Target: history costs at most 10%
 * (ratio on/off >= 0.90). The clock runs from the first delivery.
 *
 * Row shape: `warren` = history on, `raw` = history off (the same worker;
 * not raw amqplib), `ratio` = on / off.
 *
 * Run alone: `node --import tsx bench/history.ts [--quick]`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { z } from 'zod';
import { openHistory, type JobHistoryHandle } from '../src/history/index.ts';
import { MemoryIdempotencyStore } from '../src/idempotency/memory.ts';
import { declarePlanAt } from '../src/topology/declare.ts';
import type { TopologyPlan } from '../src/topology/plan.ts';
import { defineWorker, Worker } from '../src/worker/index.ts';
import { fillJobs } from './lib/jobs.ts';
import { benchPlanWith } from './lib/plans.ts';
import { median } from './lib/stats.ts';
import { formatTable, throughputRow, type BenchRow } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';

const TARGET = 0.9;
const DATABASE_URL = process.env.WARREN_HISTORY_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface HistoryBenchOptions {
  /** Prefetches to measure at. @defaultValue [100] */
  prefetches?: readonly number[];
  /** Jobs per run. @defaultValue 10_000 */
  count?: number;
  /** Off/on pairs; the median of each side is kept. @defaultValue 3 */
  runs?: number;
}

export async function benchHistory(options: HistoryBenchOptions = {}): Promise<BenchRow[]> {
  const count = options.count ?? 10_000;
  const runs = options.runs ?? 3;
  const runId = randomBytes(4).toString('hex');
  const schema = `warren_bench_history_${runId}`;
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const rows: BenchRow[] = [];
  try {
    for (const prefetch of options.prefetches ?? [100]) {
      await inBenchVhost(`history-${prefetch}`, async ({ url }) => {
        const plan = benchPlanWith(prefetch);
        await declarePlanAt(url, plan);
        const off: number[] = [];
        const on: number[] = [];
        for (let run = 0; run < runs; run++) {
          progress(`history, prefetch ${prefetch}, run ${run + 1}/${runs}: off (${count} jobs)`);
          await fillJobs(url, { count, runId: `${runId}-off-${prefetch}-${run}` });
          off.push(await consume(url, plan, count, undefined));
          progress(`history, prefetch ${prefetch}, run ${run + 1}/${runs}: on`);
          await fillJobs(url, { count, runId: `${runId}-on-${prefetch}-${run}` });
          const history = openHistory({ url: DATABASE_URL, schema }, { logger });
          try {
            await history.ready();
            on.push(await consume(url, plan, count, history));
          } finally {
            await history.close();
          }
        }
        const row = throughputRow('history', `consume, no-op handler, prefetch ${prefetch}, memory store: history on vs off`, median(on), median(off), TARGET);
        rows.push({ ...row, note: '(raw column = the same worker with history off)' });
      });
    }
  } finally {
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => db.end());
  }
  return rows;
}

/** Jobs/s of a worker draining `count` jobs; with history, until its last attempt row is written too. */
async function consume(url: string, plan: TopologyPlan, count: number, history: JobHistoryHandle | undefined): Promise<number> {
  let handled = 0;
  let started = performance.now();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const definition = defineWorker({
    consumer: 'bench',
    schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
    idempotency: new MemoryIdempotencyStore(),
    handle: () => {
      // Clocked from the first delivery, like bench/consume.ts: connecting and subscribing are not consuming.
      if (handled === 0) started = performance.now();
      if (++handled === count) resolveDone();
    },
  });
  const worker = new Worker([definition], plan, { urls: [url], logger: pino({ level: 'warn' }, pino.destination(2)), history: history ?? false });
  try {
    await worker.start();
    await done;
    if (history !== undefined) {
      // The last settle records its attempt just after the handler returns.
      while ((await writtenOrDropped(history)) < count) {
        await history.writer.flush();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
  }
}

async function writtenOrDropped(history: JobHistoryHandle): Promise<number> {
  const [written, dropped] = await Promise.all([history.writer.metrics.written.get(), history.writer.metrics.dropped.get()]);
  const sum = (metric: { values: Array<{ value: number }> }) => metric.values.reduce((total, v) => total + v.value, 0);
  return sum(written) + sum(dropped);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const rows = await benchHistory({ count: quick ? 3_000 : 10_000, runs: quick ? 1 : 3 });
  process.stdout.write(`${formatTable(rows)}\n`);
}
