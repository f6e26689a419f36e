/**
 * HTTP enqueue benchmark: warren's producer (single job and batch) against
 * two baselines measured in the same run — raw amqplib pipelined confirmed
 * publish, and a bare express endpoint doing JSON.parse + one confirmed
 * publish. 50 autocannon connections on loopback; servers run in child
 * processes. Run: `node --import tsx bench/http-enqueue.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type Options } from 'amqplib';
import { jobHeaders } from '../src/message/headers.ts';
import autocannon from 'autocannon';
import { declarePlanAt } from '../src/topology/declare.ts';
import { BENCH_EXCHANGE, BENCH_QUEUE, BENCH_ROUTING_KEY, benchPayload, benchPlan } from './http-plan.ts';
import { trackChild } from './lib/cleanup.ts';
import { rawConfirmedPublish } from './lib/raw-amqplib.ts';
import { inBenchVhost } from './lib/vhost.ts';

export interface BenchRow {
  name: string;
  requestsPerSecond: number | null;
  jobsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Against the baseline named in `versus`. */
  ratio: number | null;
  versus: string | null;
  errors: number;
}

export interface HttpBenchOptions {
  durationSeconds?: number;
  /** Messages of each raw confirmed-publish baseline (default 20,000). */
  publishCount?: number;
  connections?: number;
  batchSize?: number;
}

export async function runHttpEnqueueBench(options: HttpBenchOptions = {}): Promise<BenchRow[]> {
  const duration = options.durationSeconds ?? 10;
  const connections = options.connections ?? 50;
  const batchSize = options.batchSize ?? 100;
  const publishCount = options.publishCount ?? 20_000;
  return inBenchVhost('http', async ({ url }) => {
    await declarePlanAt(url, benchPlan());
    const target = { url, exchange: BENCH_EXCHANGE, routingKey: BENCH_ROUTING_KEY };
    const content = Buffer.from(JSON.stringify(benchPayload(1)));
    const raw = await rawConfirmedPublish(target, { count: publishCount, content, window: 1_000, properties: plainPersistent });
    await purge(url);
    // The same publishes carrying warren's message conventions: what the
    // broker itself pays for the headers, properties and mandatory flag.
    const rawConventions = await rawConfirmedPublish(target, { count: publishCount, content, window: 1_000, properties: withConventions });
    await purge(url);
    const bare = await withServer('bare', url, (base) => load(base, JSON.stringify(benchPayload(1)), duration, connections));
    await purge(url);
    const single = await withServer('warren', url, (base) => load(base, JSON.stringify(benchPayload(1)), duration, connections));
    await purge(url);
    const batchBody = JSON.stringify(Array.from({ length: batchSize }, (_, i) => benchPayload(i)));
    const batch = await withServer('warren', url, (base) => load(`${base}/batch`, batchBody, duration, connections));
    return [
      { name: 'raw amqplib confirmed publish (pipelined)', requestsPerSecond: null, jobsPerSecond: raw, p50Ms: null, p99Ms: null, ratio: null, versus: null, errors: 0 },
      { name: 'conventions: raw amqplib confirmed publish with warren headers/properties', requestsPerSecond: null, jobsPerSecond: rawConventions, p50Ms: null, p99Ms: null, ratio: null, versus: null, errors: 0 },
      { name: 'bare express + JSON.parse + confirm', ...bare, jobsPerSecond: bare.requestsPerSecond, ratio: null, versus: null },
      { name: 'warren POST /v1/jobs/{type}', ...single, jobsPerSecond: single.requestsPerSecond, ratio: single.requestsPerSecond / bare.requestsPerSecond, versus: 'bare req/s' },
      { name: `warren POST /v1/jobs/{type}/batch (${batchSize})`, ...batch, jobsPerSecond: batch.requestsPerSecond * batchSize, ratio: (batch.requestsPerSecond * batchSize) / raw, versus: 'raw msg/s' },
    ];
  });
}

/** The properties and headers warren puts on every job (DESIGN.md's conventions). */
let conventionSeq = 0;
function withConventions(): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: `raw-${conventionSeq++}`,
    type: 'bench.job',
    timestamp: Math.floor(Date.now() / 1000),
    headers: jobHeaders({ exchange: BENCH_EXCHANGE, routingKey: BENCH_ROUTING_KEY, orderingKey: 'order-1', now: new Date() }),
  };
}

const plainPersistent = (): Options.Publish => ({ persistent: true });

async function purge(url: string): Promise<void> {
  const connection = await connect(url);
  const channel = await connection.createChannel();
  await channel.purgeQueue(BENCH_QUEUE);
  await connection.close();
}

interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function load(url: string, body: string, duration: number, connections: number): Promise<LoadResult> {
  const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, duration, connections });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function withServer<T>(mode: 'warren' | 'bare', amqpUrl: string, run: (base: string) => Promise<T>): Promise<T> {
  const script = fileURLToPath(new URL('./http-server.ts', import.meta.url));
  const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', `bench/results/profiles/http-${mode}`] : []), '--import', 'tsx', script, mode, amqpUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  trackChild(child);
  try {
    const base = await listeningUrl(child);
    return await run(`${base}/v1/jobs/bench.job`);
  } finally {
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('listening ')) resolve(line.slice('listening '.length));
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

export function formatRows(rows: readonly BenchRow[]): string {
  const n = (value: number | null, digits = 0) => (value === null ? '' : value.toFixed(digits));
  const header = '| run | req/s | jobs/s | p50 ms | p99 ms | ratio | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |';
  const body = rows.map(
    (r) => `| ${r.name} | ${n(r.requestsPerSecond)} | ${n(r.jobsPerSecond)} | ${n(r.p50Ms)} | ${n(r.p99Ms)} | ${r.ratio === null ? '' : `${(r.ratio * 100).toFixed(0)}% of ${r.versus}`} | ${r.errors} |`,
  );
  return [header, ...body].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runHttpEnqueueBench();
  process.stdout.write(`${formatRows(rows)}\n`);
}
