import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RedisIdempotencyStore } from '../../src/idempotency/redis.ts';
import { createLogger } from '../../src/log.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

/**
 * The Redis store (auto-pipelined) survives a restart of Redis mid-stream.
 * Redis here is a private redis-server on a free port, never the shared one;
 * the broker is the shared one, in a vhost of this test's own.
 */
const JOBS = 600;
const plan = planOf(`
version: 1
exchanges:
  stream: { type: fanout }
consumers:
  keyed:
    source: { exchange: stream }
    prefetch: 50
    retry: { delays: [300ms], maxAttempts: 20 }
`);

let dir: string;
let port: number;
let redis: ChildProcess | undefined;
let vhost: TestVhost;
let worker: Worker | undefined;
/** The keyed effect: applying a job twice leaves one entry; `runs` counts every application. */
const effects = new Map<string, number>();
let runs = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Append-only with fsync on every write, so done markers outlive the restart as they would in production. */
async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await waitFor('redis-server to answer', async () => {
    try {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      probe.disconnect();
      return false;
    }
  }, 20_000, 100);
  probe.disconnect();
}

async function stopRedis(signal: NodeJS.Signals): Promise<void> {
  const child = redis;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warren-redis-restart-'));
  port = await freePort();
  await startRedis();
  vhost = await createTestVhost('idempotency-redis-restart');
  await declarePlanAt(vhost.url, plan);
});

afterAll(async () => {
  await worker?.stop();
  await stopRedis('SIGKILL');
  await vhost?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis store through a Redis restart', () => {
  it('loses no job and applies each keyed effect once when Redis restarts mid-run', async () => {
    worker = new Worker(
      [
        defineWorker({
          consumer: 'keyed',
          schema: z.object({ n: z.number().int() }),
          idempotency: () => new RedisIdempotencyStore({ url: `redis://127.0.0.1:${port}`, prefix: 'restart:' }),
          handle: async (_job, ctx) => {
            await new Promise((resolve) => setTimeout(resolve, 10));
            runs++;
            effects.set(ctx.jobId, (effects.get(ctx.jobId) ?? 0) + 1);
          },
        }),
      ],
      plan,
      { urls: [vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 },
    );
    await worker.start();
    const publisher = await testPublisher(vhost.url, 'stream');
    for (let n = 0; n < JOBS; n++) await publisher.job('', { n });
    await publisher.close();

    await waitFor('a third of the jobs', () => effects.size >= JOBS / 3, 60_000, 5);
    await stopRedis('SIGTERM');
    // The restart happened mid-run, not after it.
    expect(effects.size).toBeLessThan(JOBS);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await startRedis();

    await waitFor(`all ${JOBS} effects`, () => effects.size === JOBS, 90_000, 100);
    await waitFor('the queues to drain', async () => {
      const queues = (await vhost.management.get(`/queues/${encodeURIComponent(vhost.vhost)}`)) as Array<{ name: string; messages?: number }>;
      return queues.every((queue) => (queue.messages ?? 0) === 0);
    }, 30_000, 500);
    // Nothing dead-lettered: jobs that met the outage went through retry and were applied later.
    const dlq = (await vhost.management.get(`/queues/${encodeURIComponent(vhost.vhost)}/keyed.dlq`)) as { messages?: number };
    expect(dlq.messages ?? 0).toBe(0);
    // The done markers survived the restart (append-only file), so only a job
    // in flight at the restart (its completion cut off) may have run again,
    // and its keyed effect absorbed that: at most one prefetch of re-runs.
    expect(runs).toBeLessThanOrEqual(JOBS + 50);
    expect([...effects.values()].filter((count) => count > 1).length).toBeLessThanOrEqual(50);
  });
});
