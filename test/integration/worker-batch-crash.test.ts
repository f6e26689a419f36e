import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, uniqueName, type TestVhost } from '../support/broker.ts';
import { planOf, testPublisher, waitFor } from '../fixtures/workers/_support.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const JOBS = 1_500;
const KILL_AT = [200, 600, 1_000];

// Prefetch 50 = two batches of 25: one runs while the next gathers, so a
// kill finds committed-but-unacked, running and waiting jobs all at once.
const TOPOLOGY = `
version: 1
exchanges:
  ledger: { type: fanout }
consumers:
  ledger:
    source: { exchange: ledger }
    prefetch: 50
    retry: { delays: [1s] }
`;

let dir: string;
let topologyFile: string;
let db: pg.Pool;
let vhost: TestVhost;
const table = uniqueName('batch_crash').replace(/-/g, '_');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warren-batch-crash-'));
  topologyFile = join(dir, 'topology.yaml');
  writeFileSync(topologyFile, TOPOLOGY);
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  vhost = await createTestVhost('worker-batch-crash');
  await declarePlanAt(vhost.url, planOf(TOPOLOGY));
  // No unique key: a doubled effect would show as an extra row.
  await db.query(`CREATE TABLE ${table} (job_id text NOT NULL, n integer NOT NULL)`);
});

afterAll(async () => {
  for (const t of [table, `${table}_idem`]) await db?.query(`DROP TABLE IF EXISTS ${t}`);
  await db?.end();
  await vhost?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['bin/warren.js', 'worker', 'test/fixtures/workers/ledger-batch.ts', '--topology', topologyFile], {
    env: { ...process.env, AMQP_URL: vhost.url, DATABASE_URL, WARREN_TEST_TABLE: table, LOG_LEVEL: 'warn', WARREN_LOG_PRETTY: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', () => undefined);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function counts(): Promise<{ rows: number; distinct: number }> {
  const result = await db.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT job_id) AS distinct FROM ${table}`);
  return { rows: Number(result.rows[0]?.rows), distinct: Number(result.rows[0]?.distinct) };
}

it(`a batch worker SIGKILLed mid-batch ${KILL_AT.length} times loses nothing and records each of ${JOBS} effects once`, { timeout: 180_000 }, async () => {
  const publisher = await testPublisher(vhost.url, 'ledger');
  for (let n = 0; n < JOBS; n++) await publisher.job('', { n });
  await publisher.close();

  for (const threshold of KILL_AT) {
    const child = startWorker();
    await waitFor(`${threshold} effects`, async () => (await counts()).rows >= threshold, 60_000, 10);
    child.kill('SIGKILL');
    await exited(child);
  }
  const last = startWorker();
  await waitFor(`all ${JOBS} effects`, async () => (await counts()).distinct >= JOBS, 90_000, 100);
  await waitFor('the queue to drain', async () => {
    const queue = (await vhost.management.get(`/queues/${encodeURIComponent(vhost.vhost)}/ledger`)) as { messages?: number };
    return queue.messages === 0;
  }, 30_000, 500);
  last.kill('SIGTERM');
  expect(await exited(last)).toBe(0);

  expect(await counts()).toEqual({ rows: JOBS, distinct: JOBS });
  const dlq = (await vhost.management.get(`/queues/${encodeURIComponent(vhost.vhost)}/ledger.dlq`)) as { messages?: number };
  expect(dlq.messages ?? 0).toBe(0);
});
