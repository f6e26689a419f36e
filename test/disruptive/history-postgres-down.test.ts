import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { openHistory, type JobHistoryHandle } from '../../src/history/index.ts';
import { createLogger } from '../../src/log.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

/**
 * The job history against a PostgreSQL that goes away mid-run: a private
 * PostgreSQL 15 (initdb into a temp dir, its own port and socket directory,
 * run as the `postgres` user when the test runs as root, which initdb
 * refuses) — never the shared one. The broker is the shared one, in a vhost
 * of this test's own. Jobs go in through the job client (which records
 * their acceptance) and are handled by a worker (which records each
 * attempt); both keep a small history backlog so that the outage overflows it.
 */
const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';
const BACKLOG = 200;
const PHASES = { before: 200, during: 600, after: 200 } as const;
const TOTAL = PHASES.before + PHASES.during + PHASES.after;

const plan = planOf(`
version: 1
exchanges:
  stream: { type: fanout }
jobs:
  tick:
    exchange: stream
    routingKey: tick
    schema: { type: object, required: [n], properties: { n: { type: integer } } }
consumers:
  work:
    source: { exchange: stream }
    prefetch: 50
`);

let dir: string;
let port: number;
let vhost: TestVhost;
let worker: Worker | undefined;
let client: JobClient | undefined;
let clientHistory: JobHistoryHandle | undefined;
const clientRegistry = new Registry();
const processed = new Map<string, number>();
/** Jobs from this number on wait in their handler until PostgreSQL is stopped: the stop falls in the middle of the run. */
const GATED_FROM = PHASES.before + 100;
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (openGate = resolve));
const logger = createLogger('test', { level: 'silent', pretty: false });

/** initdb and pg_ctl refuse to run as root: run them as `postgres` then. */
const asPostgres = (command: string, args: string[]) =>
  process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', join(PG_BIN, command), ...args]) : run(join(PG_BIN, command), args);

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

const dataDir = () => join(dir, 'data');

async function startPostgres(): Promise<void> {
  await asPostgres('pg_ctl', ['-D', dataDir(), '-l', join(dir, 'postgres.log'), '-w', '-t', '60', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
}

async function stopPostgres(): Promise<void> {
  // This test's own data directory only: the shared PostgreSQL is never touched.
  await asPostgres('pg_ctl', ['-D', dataDir(), '-m', 'fast', '-w', 'stop']);
}

async function counter(registry: Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return ((metric?.values ?? []) as Array<{ value: number }>).reduce((sum, v) => sum + v.value, 0);
}

const historyUrl = () => `postgres://postgres@127.0.0.1:${port}/postgres`;
const writerOptions = { maxBacklog: BACKLOG, batchSize: 50, flushIntervalMs: 20, retryInitialMs: 100, retryMaxMs: 300 };

async function enqueue(count: number, from: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await (client as JobClient).enqueue('tick', { n: from + i })).id);
  return ids;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warren-history-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  port = await freePort();
  await asPostgres('initdb', ['-D', dataDir(), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  await startPostgres();
  vhost = await createTestVhost('history-pg-down');
  await declarePlanAt(vhost.url, plan);
});

afterAll(async () => {
  await client?.close();
  await clientHistory?.close();
  await worker?.stop();
  await stopPostgres().catch(() => undefined);
  await vhost?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('job history while its PostgreSQL is stopped mid-run', () => {
  it('keeps processing, loses no job, counts the history rows it could not write, and resumes when PostgreSQL returns', async () => {
    const history = { url: historyUrl(), writer: writerOptions };
    worker = new Worker(
      [
        defineWorker({
          consumer: 'work',
          handle: async (job, ctx) => {
            if ((job as { n: number }).n >= GATED_FROM) await gate;
            processed.set(ctx.jobId, (processed.get(ctx.jobId) ?? 0) + 1);
          },
        }),
      ],
      plan,
      { urls: [vhost.url], logger, shutdownTimeoutMs: 2_000, history },
    );
    await worker.start();
    // The job client's history handle is the test's, to see its backlog.
    clientHistory = openHistory(history, { logger, registry: clientRegistry });
    client = await createJobClient({ topology: plan, amqpUrls: [vhost.url], history: clientHistory });
    const workerHistory = worker.history;
    expect(workerHistory).toBeDefined();

    const before = await enqueue(PHASES.before, 0);
    await waitFor('the first jobs handled', () => before.every((id) => processed.has(id)), 60_000);
    await workerHistory?.writer.flush();

    // Stopped while jobs are flowing: some handled and recorded, others held in their handlers.
    const sending = enqueue(PHASES.during, PHASES.before);
    await waitFor('jobs flowing', () => processed.size >= GATED_FROM, 60_000, 5);
    await stopPostgres();
    openGate();
    // Jobs keep coming and keep being handled while the history database is down.
    const during = await sending;
    await waitFor('the jobs sent during the outage handled', () => during.every((id) => processed.has(id)), 60_000);
    expect(workerHistory?.writer.pending).toBeLessThanOrEqual(BACKLOG);
    await waitFor('a failed history write', async () => (await counter(worker?.metrics.registry ?? new Registry(), 'warren_history_write_failures_total')) > 0, 30_000);

    await startPostgres();
    await waitFor('the history backlogs written after PostgreSQL returned', () => workerHistory?.writer.pending === 0 && clientHistory?.writer.pending === 0, 60_000);
    const after = await enqueue(PHASES.after, PHASES.before + PHASES.during);
    await waitFor('the last jobs handled', () => after.every((id) => processed.has(id)), 60_000);
    await client.close();
    await clientHistory.close();
    await worker.stop();

    // Nothing lost: every job was handled, once.
    expect(processed.size).toBe(TOTAL);
    expect([...processed.values()].every((count) => count === 1)).toBe(true);

    const db = new pg.Client({ connectionString: historyUrl() });
    await db.connect();
    try {
      const count = async (sql: string, values: unknown[] = []) => Number((await db.query<{ n: string }>(sql, values)).rows[0]?.n);
      const attemptRows = await count('SELECT count(*) AS n FROM warren_history.attempts');
      const jobRows = await count('SELECT count(*) AS n FROM warren_history.jobs');
      const attemptsDropped = await counter(worker.metrics.registry, 'warren_history_rows_dropped_total');
      const jobsDropped = await counter(clientRegistry, 'warren_history_rows_dropped_total');
      // The outage overflowed the backlog: rows were dropped, and the counters say exactly how many.
      expect(attemptsDropped).toBeGreaterThan(0);
      expect(jobsDropped).toBeGreaterThan(0);
      expect(attemptRows + attemptsDropped).toBe(TOTAL);
      expect(jobRows + jobsDropped).toBe(TOTAL);
      expect(await counter(worker.metrics.registry, 'warren_history_rows_written_total')).toBe(attemptRows);
      // Everything before the outage and everything after it is there: the history resumed.
      for (const ids of [before, after]) {
        expect(await count('SELECT count(DISTINCT job_id) AS n FROM warren_history.attempts WHERE job_id = ANY($1)', [ids])).toBe(ids.length);
        expect(await count('SELECT count(DISTINCT id) AS n FROM warren_history.jobs WHERE id = ANY($1)', [ids])).toBe(ids.length);
      }
      expect(await count("SELECT count(*) AS n FROM warren_history.attempts WHERE outcome <> 'succeeded'")).toBe(0);
    } finally {
      await db.end();
    }
  });
});
