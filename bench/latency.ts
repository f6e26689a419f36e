/**
 * End-to-end latency, HTTP request sent → handler start, at a steady 1,000
 * and 5,000 jobs/s: POSTs to `warren serve` (a child process, up to 512
 * keep-alive sockets) consumed by a warren worker in this process, so both
 * timestamps come from one clock. Up to 1,000 jobs/s each job is its own
 * request; above, jobs go in batches of 10 (as a client sending that many
 * would), since one producer process on these 2 cores serves about 1.5k
 * single-job requests/s. Raw amqplib's figure is publish → deliver at the
 * same rate on a queue of the same type (bench/lib/raw-amqplib.ts).
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
/** Jobs per request at a rate: single jobs up to 1,000/s, then batches. */
const batchSizeAt = (rate: number) => (rate > 1_000 ? 10 : 1);
/** The target: warren's p99 at most 3x raw's, i.e. raw/warren >= 1/3. */
const P99_TARGET = 1 / 3;

export async function benchLatency(options: { rates: readonly number[]; durationMs: number }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const rate of options.rates) {
    await inBenchVhost(`latency-${rate}`, async ({ url }) => {
      // Raw runs on a queue of the same type as warren's (the topology default).
      const benchType = benchPlanWith(PREFETCH).queues.find((q) => q.name === 'bench')?.type;
      await declareQueue(url, 'bench-latency-raw', benchType === 'classic' ? 'classic' : 'quorum');
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
  const batchSize = batchSizeAt(rate);
  const total = Math.round((rate * durationMs) / 1000);
  const requests = Math.ceil(total / batchSize);
  const samples: number[] = [];
  let errors = 0;
  let warmedUp = 0;
  let settled = () => undefined as void;
  const allSeen = new Promise<void>((resolve) => (settled = resolve));
  const check = () => samples.length + errors >= total && settled();
  const worker = new Worker(
    [
      defineWorker({
        consumer: 'bench',
        schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
        handle: (job) => {
          if (job.key.startsWith(WARM_UP)) return void warmedUp++;
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
    const target = `${producer.url}/v1/jobs/${BENCH_JOB}${batchSize > 1 ? '/batch' : ''}`;
    // One second at the same rate first, not measured: opening the sockets
    // and the first publishes of a fresh process are not steady state.
    const warmUpRequests = Math.ceil(rate / batchSize);
    await atSteadyRate(rate / batchSize, warmUpRequests, (i) => void postJob(agent, target, requestBody(i, batchSize, 0, WARM_UP)));
    for (let waited = 0; warmedUp < warmUpRequests * batchSize && waited < 10_000; waited += 50) await sleep(50);
    await atSteadyRate(rate / batchSize, requests, (i) =>
      postJob(agent, target, requestBody(i, batchSize, performance.now())).then((status) => {
        if (status !== 202) {
          errors += batchSize;
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

const WARM_UP = 'warm-';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function requestBody(index: number, batchSize: number, sentAt: number, prefix = 'k'): Buffer {
  if (batchSize === 1) return benchJob(`${prefix}${index % 1_000}`, sentAt);
  const jobs = Array.from({ length: batchSize }, (_, j) => benchJob(`${prefix}${(index * batchSize + j) % 1_000}`, sentAt).toString());
  return Buffer.from(`[${jobs.join(',')}]`);
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
