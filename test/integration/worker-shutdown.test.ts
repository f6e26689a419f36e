import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, uniqueName, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const JOBS = 60;
const SHUTDOWN_TIMEOUT_MS = 5_000;
const TOPOLOGY = `
version: 1
exchanges:
  work: { type: fanout }
consumers:
  slow:
    source: { exchange: work }
    prefetch: 10
    retry: { delays: [1s] }
`;

let vhost: TestVhost;
let dir: string;
let db: pg.Pool;
const table = uniqueName('shutdown').replace(/-/g, '_');

beforeAll(async () => {
  vhost = await createTestVhost('worker-shutdown');
  await declarePlanAt(vhost.url, planOf(TOPOLOGY));
  dir = mkdtempSync(join(tmpdir(), 'warren-shutdown-'));
  writeFileSync(join(dir, 'topology.yaml'), TOPOLOGY);
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  await db.query(`CREATE TABLE ${table} (job_id text NOT NULL, n integer NOT NULL)`);
});

afterAll(async () => {
  await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await db.end();
  rmSync(dir, { recursive: true, force: true });
  await vhost?.cleanup();
});

function startWorker(): ChildProcess {
  return spawn(
    process.execPath,
    ['bin/warren.js', 'worker', 'test/fixtures/workers/slow.ts', '--topology', join(dir, 'topology.yaml'), '--shutdown-timeout', String(SHUTDOWN_TIMEOUT_MS)],
    { env: { ...process.env, AMQP_URL: vhost.url, DATABASE_URL, WARREN_TEST_TABLE: table, LOG_LEVEL: 'warn', WARREN_LOG_PRETTY: '0' }, stdio: 'ignore' },
  );
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function counts(): Promise<{ rows: number; distinct: number }> {
  const result = await db.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT job_id) AS distinct FROM ${table}`);
  return { rows: Number(result.rows[0]?.rows), distinct: Number(result.rows[0]?.distinct) };
}

describe('graceful shutdown', () => {
  it('exits 0 on SIGTERM within the deadline, finishing in-flight jobs; nothing is lost or done twice', async () => {
    const publisher = await testPublisher(vhost.url, 'work');
    for (let n = 0; n < JOBS; n++) await publisher.job('', { n });
    await publisher.close();

    const worker = startWorker();
    const exit = exitOf(worker);
    await waitFor('some jobs done', async () => (await counts()).rows >= 5, 30_000, 20);
    const signalledAt = Date.now();
    worker.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 3_000);
    const afterShutdown = await counts();
    expect(afterShutdown.rows).toBeLessThan(JOBS);

    // A second worker finishes the rest: every job exactly once.
    const rest = startWorker();
    const restExit = exitOf(rest);
    await waitFor('every job done', async () => (await counts()).distinct >= JOBS, 60_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 500));
    rest.kill('SIGTERM');
    expect(await restExit).toBe(0);
    expect(await counts()).toEqual({ rows: JOBS, distinct: JOBS });
  });
});
