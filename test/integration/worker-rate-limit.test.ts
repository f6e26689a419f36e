import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { z } from 'zod';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

/**
 * Issue 17: a consumer limited to 50 jobs/s, consumed by two worker
 * processes sharing the bucket in Redis, handles 1,000 jobs at no more than
 * 50/s and loses none.
 *
 * What is asserted, and why it is robust: the limiter spaces job starts
 * 20 ms apart across both processes, so the 1,000 starts span at least
 * 999 × 20 ms (two per-process buckets would finish in half that, no limit
 * in a second or two). The timestamps are taken in the handler, after the
 * slot: a worker stalled for d ms starts several jobs late at once, which
 * can put up to d / 20 ms extra starts into one window. Windows allow for
 * JITTER_MS of such stalls (CI runs three integration files at once on two
 * cores); the span check allows the same at its two ends. Both still fail
 * for per-process buckets (100/s, the 1,000 starts within ~10 s) or no limit.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const JOBS = 1_000;
const MAX = 50;
const PER_MS = 1_000;
const SLOT_MS = PER_MS / MAX;
const JITTER_MS = 500;

const TOPOLOGY = `
version: 1
exchanges:
  quota: { type: fanout }
consumers:
  limited:
    source: { exchange: quota }
    prefetch: 10
    rateLimit: { max: ${MAX}, per: 1s }
`;

let vhost: TestVhost;
let dir: string;
let topologyFile: string;
let redis: Redis;
const list = `warren-test:ratelimit:${process.pid}:${Date.now().toString(36)}`;
const children: ChildProcess[] = [];

beforeAll(async () => {
  vhost = await createTestVhost('warren-ratelimit');
  dir = mkdtempSync(join(tmpdir(), 'warren-ratelimit-'));
  topologyFile = join(dir, 'topology.yaml');
  writeFileSync(topologyFile, TOPOLOGY);
  await declarePlanAt(vhost.url, planOf(TOPOLOGY));
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await redis?.del(list);
  await redis?.quit();
  await vhost?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function startWorker(): { child: ChildProcess; log: () => string } {
  const child = spawn(process.execPath, ['bin/warren.js', 'worker', 'test/fixtures/workers/limited.ts', '--topology', topologyFile], {
    env: { ...process.env, AMQP_URL: vhost.url, REDIS_URL, WARREN_TEST_LIST: list, LOG_LEVEL: 'info', WARREN_LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    // Keep the start-up lines only: the job lines would grow without need.
    if (log.length < 20_000) log += chunk.toString();
  });
  child.stderr?.on('data', () => undefined);
  return { child, log: () => log };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The most starts inside any window [t, t + windowMs) that begins at a start. */
function maxInWindow(times: readonly number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (j < times.length && (times[j] ?? 0) < (times[i] ?? 0) + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

describe('rateLimit across two worker processes (shared Redis bucket)', () => {
  it('processes at most 50 jobs/s and loses none', { timeout: 120_000 }, async () => {
    const publisher = await testPublisher(vhost.url, 'quota');
    for (let n = 0; n < JOBS; n++) await publisher.job('limited', { n }, { id: `job-${n}` });
    await publisher.close();

    const workers = [startWorker(), startWorker()];
    await waitFor('every job handled', async () => (await redis.llen(list)) >= JOBS, 90_000, 250);
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((worker) => exited(worker.child)));
    for (const worker of workers) {
      expect(worker.child.exitCode).toBe(0);
      // The start log says plainly which kind of bucket this process uses.
      expect(worker.log()).toContain('rate limit 50 per 1s, shared (redis)');
    }

    const entries = (await redis.lrange(list, 0, -1)).map((line) => {
      const [at, id, pid] = line.split(' ');
      return { at: Number(at), id: String(id), pid: String(pid) };
    });
    // Nothing lost, nothing twice.
    expect(entries).toHaveLength(JOBS);
    expect(new Set(entries.map((e) => e.id)).size).toBe(JOBS);
    // Both processes took jobs: the limit held across them, not within one.
    expect(new Set(entries.map((e) => e.pid)).size).toBe(2);
    const connection = await connect(vhost.url);
    try {
      const channel = await connection.createChannel();
      expect((await channel.checkQueue('limited')).messageCount).toBe(0);
    } finally {
      await connection.close();
    }

    const times = entries.map((e) => e.at).sort((a, b) => a - b);
    const spanMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
    const allowance = Math.ceil(JITTER_MS / SLOT_MS);
    const perSecond = maxInWindow(times, 1_000);
    const perFiveSeconds = maxInWindow(times, 5_000);
    console.log(`rate limit: ${JOBS} jobs in ${spanMs} ms (${((JOBS - 1) / (spanMs / 1000)).toFixed(1)}/s); most in any 1 s window ${perSecond}, any 5 s window ${perFiveSeconds}`);
    expect(spanMs).toBeGreaterThanOrEqual((JOBS - 1) * SLOT_MS - JITTER_MS);
    expect(perSecond).toBeLessThanOrEqual(MAX + allowance);
    expect(perFiveSeconds).toBeLessThanOrEqual(5 * MAX + allowance);
    const twentySeconds = maxInWindow(times, 20_000);
    expect(twentySeconds).toBeLessThanOrEqual(20 * MAX + allowance);
  });

  it('without Redis, each process limits itself, and its start log says so', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const plan = planOf(TOPOLOGY.replace('limited:', 'solo:').replace(`max: ${MAX}`, 'max: 10'));
    await declarePlanAt(vhost.url, plan);
    const starts: number[] = [];
    const worker = new Worker(
      [defineWorker({ consumer: 'solo', schema: z.object({ n: z.number() }), handle: () => void starts.push(Date.now()) })],
      plan,
      { urls: [vhost.url], logger, rateLimitRedisUrl: '' },
    );
    await worker.start();
    try {
      const publisher = await testPublisher(vhost.url, 'quota');
      for (let n = 0; n < 15; n++) await publisher.job('solo', { n });
      await publisher.close();
      await waitFor('15 jobs', () => starts.length >= 15, 20_000);
    } finally {
      await worker.stop();
    }
    expect(lines.join('')).toContain('rate limit 10 per 1s, per process: each worker process has its own bucket');
    // 15 starts at 10/s, 100 ms apart: at least 1.4 s from the first to the last.
    expect((starts.at(-1) ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(1_400 - JITTER_MS / 5);
  });
});
