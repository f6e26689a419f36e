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
const KEYS = 20;
const SEQS = 50;
const TOPOLOGY = `
version: 1
exchanges:
  events: { type: topic }
consumers:
  ordered:
    source: { exchange: events, pattern: "#" }
    shards: 4
    prefetch: 20
    retry: { delays: [50ms, 100ms], maxAttempts: 3 }
`;

let vhost: TestVhost;
let dir: string;
let db: pg.Pool;
const table = uniqueName('ordering').replace(/-/g, '_');
const children: ChildProcess[] = [];

beforeAll(async () => {
  vhost = await createTestVhost('worker-ordering');
  await declarePlanAt(vhost.url, planOf(TOPOLOGY));
  dir = mkdtempSync(join(tmpdir(), 'warren-ordering-'));
  writeFileSync(join(dir, 'topology.yaml'), TOPOLOGY);
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  await db.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, key text NOT NULL, seq integer NOT NULL, attempt integer NOT NULL, pid integer NOT NULL)`);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS ${table}_idem`).catch(() => undefined);
  await db.end();
  rmSync(dir, { recursive: true, force: true });
  await vhost?.cleanup();
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['bin/warren.js', 'worker', 'test/fixtures/workers/ordered.ts', '--topology', join(dir, 'topology.yaml')], {
    env: { ...process.env, AMQP_URL: vhost.url, DATABASE_URL, WARREN_TEST_TABLE: table, LOG_LEVEL: 'warn', WARREN_LOG_PRETTY: '0' },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

async function handled(): Promise<number> {
  const result = await db.query<{ count: string }>(`SELECT count(*) FROM ${table}`);
  return Number(result.rows[0]?.count);
}

describe('per-key ordering across shards, retries and failover', () => {
  it(`keeps ${KEYS} keys x ${SEQS} sequence numbers in order with two workers, one killed midway`, async () => {
    const publisher = await testPublisher(vhost.url, 'events', { shardCounts: [4] });
    for (let seq = 0; seq < SEQS; seq++) {
      for (let k = 0; k < KEYS; k++) await publisher.job('order.event', { key: `key-${k}`, seq }, { orderingKey: `key-${k}` });
    }
    await publisher.close();

    const first = startWorker();
    await waitFor('the first worker to start handling', async () => (await handled()) >= 100, 60_000, 20);
    const second = startWorker();
    await waitFor('handling to pass the midpoint', async () => (await handled()) >= (KEYS * SEQS) / 2, 60_000, 20);
    first.kill('SIGKILL');
    await waitFor('every job handled', async () => (await handled()) >= KEYS * SEQS, 90_000, 100);
    second.kill('SIGTERM');

    const rows = await db.query<{ key: string; seq: number; attempt: number; pid: number }>(`SELECT key, seq, attempt, pid FROM ${table} ORDER BY id`);
    const byKey = new Map<string, number[]>();
    for (const row of rows.rows) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row.seq]);
    expect(byKey.size).toBe(KEYS);
    const everySeq = Array.from({ length: SEQS }, (_, i) => i);
    for (const seqs of byKey.values()) expect(seqs).toEqual(everySeq);
    // Retries were forced (every seventh job succeeded on attempt 2), and both workers handled jobs.
    expect(rows.rows.filter((r) => r.attempt === 2).length).toBe(KEYS * everySeq.filter((s) => s % 7 === 3).length);
    expect(new Set(rows.rows.map((r) => r.pid)).size).toBe(2);
  });
});
