import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { ScheduleLedger } from '../../src/schedules/ledger.ts';
import { tickJobId } from '../../src/schedules/rule.ts';
import { Scheduler } from '../../src/schedules/scheduler.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { drainChannel } from '../support/queue-drain.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';

/**
 * The ledger's guarantees one by one, on a real PostgreSQL and broker: a
 * tick claimed by two writers at once goes to one; a tick a dead leader
 * claimed but never saw confirmed is published again, same id; after an
 * outage, catch-up enqueues its bound and skips the rest.
 */

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const logger = createLogger('test', { level: 'silent', pretty: false });

const topology = (schedules: string) => `
version: 1
exchanges:
  beats: { type: fanout }
queues:
  beats.seen:
    type: classic
    bindings: [{ exchange: beats }]
jobs:
  heartbeat:
    exchange: beats
    schema: { type: object }
schedules:
${schedules}`;

let vhost: TestVhost;
let db: pg.Pool;
let dir: string;
const prefix = `warren_test_ledger_${process.pid}_${Date.now().toString(36)}`;

beforeAll(async () => {
  vhost = await createTestVhost('warren-ledger');
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  dir = mkdtempSync(join(tmpdir(), 'warren-ledger-'));
});

afterAll(async () => {
  await db?.query(`DROP TABLE IF EXISTS ${prefix}_ticks, ${prefix}_state`).catch(() => undefined);
  await db?.end();
  await vhost?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function withLedger<T>(run: (ledger: ScheduleLedger) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    return await run(new ScheduleLedger(client, vhost.vhost, prefix));
  } finally {
    client.release();
  }
}

async function queued(): Promise<string[]> {
  const connection = await connect(vhost.url);
  try {
    const channel = await connection.createChannel();
    return (await drainChannel(channel, 'beats.seen')).map((m) => String(m.properties.messageId));
  } finally {
    await connection.close();
  }
}

function scheduler(plan: TopologyPlan, onEnqueued?: (jobId: string) => void): Scheduler {
  return new Scheduler({
    plan,
    databaseUrl: DATABASE_URL,
    amqpUrls: [vhost.url],
    tablePrefix: prefix,
    standbyPollMs: 50,
    logger,
    ...(onEnqueued && { onEnqueued: (tick: { jobId: string }) => onEnqueued(tick.jobId) }),
  });
}

describe('schedule ledger', () => {
  it('two writers claiming the same ticks at once: each tick goes to exactly one', async () => {
    await withLedger((ledger) => ledger.createTables());
    const ticks = Array.from({ length: 50 }, (_, i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    const rows = ticks.map((tick) => ({ schedule: 'race', tick, jobId: tickJobId('race', tick) }));
    await withLedger((ledger) => ledger.cursors(['race'], new Date(Date.UTC(2025, 11, 31))));
    const [a, b] = await Promise.all([
      withLedger((ledger) => ledger.claim('race', rows, ticks.at(-1) ?? new Date(), 0, 'a')),
      withLedger((ledger) => ledger.claim('race', [...rows].reverse(), ticks.at(-1) ?? new Date(), 0, 'b')),
    ]);
    expect(a.length + b.length).toBe(50);
    expect(new Set([...a, ...b].map((row) => row.jobId)).size).toBe(50);
  });

  it('a tick claimed by a leader that died before the confirm is published again, same id', async () => {
    const plan = planOf(topology('  orphan: { job: heartbeat, every: 1h }\n'));
    await declarePlanAt(vhost.url, plan);
    const tick = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
    const jobId = tickJobId('orphan', tick);
    // What the dead leader left: cursor moved, row claimed, never marked enqueued.
    await withLedger(async (ledger) => {
      await ledger.cursors(['orphan'], new Date(tick.getTime() - 1));
      await ledger.claim('orphan', [{ schedule: 'orphan', tick, jobId }], tick, 0, 'dead-leader');
    });
    const seen: string[] = [];
    const replica = scheduler(plan, (id) => seen.push(id));
    await replica.start();
    try {
      await waitFor('the orphaned tick to be enqueued', () => seen.includes(jobId), 15_000);
    } finally {
      await replica.stop();
    }
    const row = await db.query<{ publishes: number; enqueued: boolean }>(
      `SELECT publishes, enqueued_at IS NOT NULL AS enqueued FROM ${prefix}_ticks WHERE schedule = 'orphan'`,
    );
    expect(row.rows).toEqual([{ publishes: 2, enqueued: true }]);
    expect(await queued()).toEqual([jobId]);
  });

  it('after an outage, catch-up enqueues at most its bound and counts the rest as skipped', async () => {
    const plan = planOf(topology('  outage: { job: heartbeat, every: 1m, missed: catch-up, catchUpLimit: 3, grace: 1s }\n'));
    const now = Date.now();
    // Last handled tick three hours ago: 180 ticks since, all but the bound missed.
    const cursor = new Date(Math.floor(now / 60_000) * 60_000 - 3 * 3_600_000);
    await withLedger((ledger) => ledger.cursors(['outage'], cursor));
    const seen: string[] = [];
    const replica = scheduler(plan, (id) => seen.push(id));
    await replica.start();
    try {
      await waitFor('the catch-up ticks', () => seen.length >= 3, 15_000);
      // One more look at the clock enqueues nothing new (the next tick is up to a minute away).
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await replica.stop();
    }
    // Consecutive minutes ending at the latest tick: the bound's three missed ones, plus the current one when it was still within the grace.
    const ticks = seen.map((id) => Date.parse(id.slice('schedule:outage:'.length)));
    expect(seen.length === 3 || seen.length === 4).toBe(true);
    ticks.forEach((tick, i) => expect(tick - (ticks[0] ?? 0)).toBe(i * 60_000));
    expect(ticks.at(-1)).toBeGreaterThanOrEqual(Math.floor(now / 60_000) * 60_000);
    const total = ((ticks.at(-1) ?? 0) - cursor.getTime()) / 60_000;
    const state = await db.query<{ skipped: string }>(`SELECT skipped FROM ${prefix}_state WHERE schedule = 'outage'`);
    expect(Number(state.rows[0]?.skipped)).toBe(total - seen.length);
    expect((await queued()).sort()).toEqual([...seen].sort());

    // `warren schedules` reads the same ledger.
    const file = join(dir, 'topology.yaml');
    writeFileSync(file, topology('  outage: { job: heartbeat, every: 1m, missed: catch-up, catchUpLimit: 3, grace: 1s }\n'));
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/warren.js', 'schedules', '--topology', file, '--table-prefix', prefix, '--json'], {
      env: { ...process.env, AMQP_URL: vhost.url, DATABASE_URL },
    });
    const listed = JSON.parse(stdout) as { schedules: Array<{ name: string; rule: string; nextRun: string; ledger: { lastEnqueued: string; skipped: number; pending: number } }> };
    expect(listed.schedules).toHaveLength(1);
    expect(listed.schedules[0]).toMatchObject({ name: 'outage', rule: 'every 1m', ledger: { lastEnqueued: seen.at(-1)?.slice('schedule:outage:'.length), skipped: total - seen.length, pending: 0 } });
    expect(new Date(listed.schedules[0]?.nextRun ?? 0).getTime()).toBeGreaterThan(Date.now() - 1_000);
  });
});
