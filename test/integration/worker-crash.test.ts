import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, uniqueName, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const JOBS = 2_000;
const KILL_AT = [300, 800, 1_300];

const TOPOLOGY = `
version: 1
exchanges:
  ledger: { type: fanout }
consumers:
  ledger:
    source: { exchange: ledger }
    prefetch: 20
    retry: { delays: [1s] }
`;

let dir: string;
let topologyFile: string;
let db: pg.Pool;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'warren-crash-'));
  topologyFile = join(dir, 'topology.yaml');
  writeFileSync(topologyFile, TOPOLOGY);
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
});

afterAll(async () => {
  await db?.end();
  rmSync(dir, { recursive: true, force: true });
});

function startWorker(env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['bin/warren.js', 'worker', 'test/fixtures/workers/ledger.ts', '--topology', topologyFile], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', WARREN_LOG_PRETTY: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', () => undefined);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function rowCount(table: string): Promise<{ rows: number; distinct: number }> {
  const result = await db.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT job_id) AS distinct FROM ${table}`);
  return { rows: Number(result.rows[0]?.rows), distinct: Number(result.rows[0]?.distinct) };
}

describe.each(['postgres', 'redis'] as const)('crash safety with the %s store', (store) => {
  let vhost: TestVhost;
  const table = uniqueName(`crash_${store}`).replace(/-/g, '_');
  const prefix = uniqueName(`warren-test-crash-${store}`);

  beforeAll(async () => {
    vhost = await createTestVhost(`worker-crash-${store}`);
    await declarePlanAt(vhost.url, planOf(TOPOLOGY));
    // The PostgreSQL effect table has no unique key: a doubled effect would show as an extra row.
    // Each row records the transaction that wrote it, to show the jobs went through group commit.
    const columns = store === 'postgres' ? 'job_id text NOT NULL, n integer NOT NULL, tx bigint NOT NULL DEFAULT txid_current()' : 'job_id text NOT NULL PRIMARY KEY, n integer NOT NULL';
    await db.query(`CREATE TABLE ${table} (${columns})`);
    await db.query(`CREATE TABLE ${table}_conflicts (job_id text NOT NULL)`);
  });

  afterAll(async () => {
    for (const t of [table, `${table}_conflicts`, `${table}_idem`]) await db.query(`DROP TABLE IF EXISTS ${t}`);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await vhost?.cleanup();
  });

  it(`records each of ${JOBS} jobs exactly once across ${KILL_AT.length} SIGKILLs`, { timeout: 180_000 }, async () => {
    const publisher = await testPublisher(vhost.url, 'ledger');
    for (let n = 0; n < JOBS; n++) await publisher.job('', { n });
    await publisher.close();
    const env = { AMQP_URL: vhost.url, DATABASE_URL, REDIS_URL, WARREN_TEST_STORE: store, WARREN_TEST_TABLE: table, WARREN_TEST_PREFIX: prefix };

    for (const threshold of KILL_AT) {
      const child = startWorker(env);
      await waitFor(`${threshold} effects`, async () => (await rowCount(table)).rows >= threshold, 60_000, 20);
      child.kill('SIGKILL');
      await exited(child);
    }
    const last = startWorker(env);
    await waitFor(`all ${JOBS} effects`, async () => (await rowCount(table)).distinct >= JOBS, 90_000, 100);
    await waitFor('the queue to drain', async () => {
      const queue = (await vhost.management.get(`/queues/${encodeURIComponent(vhost.vhost)}/ledger`)) as { messages?: number };
      return queue.messages === 0;
    }, 30_000, 500);
    last.kill('SIGTERM');
    expect(await exited(last)).toBe(0);

    const { rows, distinct } = await rowCount(table);
    expect(distinct).toBe(JOBS);
    expect(rows).toBe(JOBS);
    const numbers = await db.query<{ n: number }>(`SELECT DISTINCT n FROM ${table}`);
    expect(numbers.rowCount).toBe(JOBS);
    if (store === 'postgres') {
      // Single-job handlers at prefetch 20 shared transactions (one COMMIT for several jobs), and still each effect is there once.
      const transactions = await db.query<{ n: string }>(`SELECT count(DISTINCT tx) AS n FROM ${table}`);
      expect(Number(transactions.rows[0]?.n)).toBeLessThan(JOBS);
    }
    if (store === 'redis') {
      // The Redis done marker cannot commit with the effect: a kill between the two
      // lets the redelivery reach the effect again, and the job-id key absorbs it.
      // At most the jobs in flight at each kill (prefetch 20) can be in that window.
      expect((await rowCount(`${table}_conflicts`)).rows).toBeLessThanOrEqual(KILL_AT.length * 20);
    }
  });
});
