/**
 * End-to-end latency, HTTP request sent → handler start, at a steady 1,000
 * and 5,000 jobs/s: single-job POSTs to `warren serve` (a child process, up to 512
 * keep-alive sockets) consumed by a warren worker in this process, so both
 * timestamps come from one clock. Raw amqplib's figure is publish → deliver
 * at the same rate on a classic queue (bench/lib/raw-amqplib.ts).
 */
import { Agent, request } from 'node:http';
import { pino } from 'pino';
import { z } from 'zod';
import { declarePlanAt } from '../src/topology/declare.ts';
import { defineWorker, Worker } from '../src/worker/index.ts';
import { BENCH_JOB, benchJob, benchPlanWith, benchTopologyYaml } from './lib/plans.ts';
import { startProducerProcess, topologyFile } from './lib/processes.ts';
import { atSteadyRate, declareQueue, rawLatency } from './lib/raw-amqplib.ts';
import { summarizeLatencies, type LatencySummary } from './lib/stats.ts';
import { latencyRow, type BenchRow } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';

const PREFETCH = 100;
/** The target: warren's p99 at most 3x raw's, i.e. raw/warren >= 1/3. */
const P99_TARGET = 1 / 3;

export async function benchLatency(options: { rates: readonly number[]; durationMs: number }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const rate of options.rates) {
    await inBenchVhost(`latency-${rate}`, async ({ url }) => {
      await declareQueue(url, 'bench-latency-raw', 'classic');
      progress(`latency at ${rate}/s: raw amqplib publish -> deliver (${options.durationMs} ms)`);
      const raw = await rawLatency(url, 'bench-latency-raw', { rate, durationMs: options.durationMs });
      progress(`latency at ${rate}/s: warren HTTP request sent -> handler start`);
      const warren = await warrenLatency(url, rate, options.durationMs);
      const note = warren.errors > 0 ? `${warren.errors} non-202` : undefined;
      rows.push(withNote(latencyRow('latency', `e2e p50 at ${rate}/s`, warren.p50, raw.p50), note));
      rows.push(withNote(latencyRow('latency', `e2e p99 at ${rate}/s`, warren.p99, raw.p99, P99_TARGET), note));
      rows.push(latencyRow('latency', `e2e max at ${rate}/s`, warren.max, raw.max));
    });
  }
  return rows;
}

function withNote(row: BenchRow, note: string | undefined): BenchRow {
  return note === undefined ? row : { ...row, note };
}

async function warrenLatency(url: string, rate: number, durationMs: number): Promise<LatencySummary & { errors: number }> {
  const plan = benchPlanWith(PREFETCH);
  await declarePlanAt(url, plan);
  const file = topologyFile(benchTopologyYaml(PREFETCH));
  const producer = await startProducerProcess(file.path, url);
  const total = Math.round((rate * durationMs) / 1000);
  const samples: number[] = [];
  let errors = 0;
  let settled = () => undefined as void;
  const allSeen = new Promise<void>((resolve) => (settled = resolve));
  const check = () => samples.length + errors >= total && settled();
  const worker = new Worker(
    [
      defineWorker({
        consumer: 'bench',
        schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
        handle: (job) => {
          samples.push(performance.now() - job.sentAt);
          check();
        },
      }),
    ],
    plan,
    { urls: [url], logger: pino({ level: 'warn' }, pino.destination(2)) },
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  try {
    await worker.start();
    await atSteadyRate(rate, total, (i) =>
      postJob(agent, `${producer.url}/v1/jobs/${BENCH_JOB}`, benchJob(`k${i % 1_000}`, performance.now())).then((status) => {
        if (status !== 202) {
          errors++;
          check();
        }
      }),
    );
    await Promise.race([allSeen, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    return { ...summarizeLatencies(samples), errors: errors + Math.max(0, total - samples.length - errors) };
  } finally {
    agent.destroy();
    await worker.stop();
    await producer.stop();
    file.remove();
  }
}

function postJob(agent: Agent, url: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}
