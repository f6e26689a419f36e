import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient } from '../../src/client/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { freePort } from '../../src/up/worker-process.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf } from '../fixtures/workers/_support.ts';
import { databaseUrl, testTables, until } from '../support/stream-groups.ts';

/**
 * `warren worker` running stream group members from the example modules
 * (workers/order-log.<group>.ts, by name and by path), as a user runs it:
 * a child process that joins its groups, applies the events to the ledger
 * through ctx.tx, serves the groups' metrics, and on SIGTERM leaves its
 * groups with every applied record's offset committed.
 */
const plan = planOf(readFileSync('topology/orders-stream.yaml', 'utf8'));
let vhost: TestVhost;
let tables: Awaited<ReturnType<typeof testTables>>;
const orderPrefix = `wsc-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  vhost = await createTestVhost('worker-stream-cli');
  await declarePlanAt(vhost.url, plan);
  tables = await testTables();
});

afterAll(async () => {
  await tables?.db.query("DELETE FROM order_log_ledger WHERE order_id LIKE $1", [`${orderPrefix}-%`]).catch(() => undefined);
  await tables?.drop();
  await vhost?.cleanup();
});

function warren(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['bin/warren.js', 'worker', ...args], { env: { ...process.env, LOG_LEVEL: 'info', WARREN_LOG_PRETTY: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, output: () => output };
}

const order = (orderId: string) => ({ orderId, customerId: 'c-1', items: [{ sku: 'MUG-RED', quantity: 2, price: 9.5 }], total: 19, currency: 'EUR', createdAt: new Date().toISOString() });

describe('warren worker with stream group modules', () => {
  it('joins the groups, applies every event once through ctx.tx, serves the stream metrics, and on SIGTERM leaves with its offsets committed', async () => {
    const port = await freePort();
    const run = warren(['order-log.payments', 'workers/order-log.analytics.ts', '--topology', 'topology/orders-stream.yaml', '--metrics-port', String(port), '--table-prefix', tables.prefix], {
      AMQP_URL: vhost.url,
      DATABASE_URL: databaseUrl(),
    });
    try {
      await until('/healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 30_000);
      const client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
      for (let i = 0; i < 30; i++) await client.publishEvent('order.created', order(`${orderPrefix}-${i}`), { idempotencyKey: `${orderPrefix}-${i}.created` });
      for (let i = 0; i < 5; i++) await client.publishEvent('order.cancelled', { orderId: `${orderPrefix}-${i}`, reason: 'test' }, { idempotencyKey: `${orderPrefix}-${i}.cancelled` });
      await client.close();
      const applied = async () =>
        (await tables.db.query<{ grp: string; n: string; once: boolean }>(
          'SELECT grp, count(*) AS n, bool_and(applications = 1) AS once FROM order_log_ledger WHERE order_id LIKE $1 GROUP BY grp ORDER BY grp',
          [`${orderPrefix}-%`],
        )).rows.map((r) => ({ group: r.grp, rows: Number(r.n), once: r.once }));
      await until('both groups to apply 35 events', async () => (await applied().catch(() => [])).every((g) => g.rows === 35) && (await applied().catch(() => [])).length === 2, 30_000);
      expect(await applied()).toEqual([
        { group: 'analytics', rows: 35, once: true },
        { group: 'payments', rows: 35, once: true },
      ]);
      // One /metrics for both groups: each group's records, told apart by the group label.
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const group of ['analytics', 'payments']) {
        const lines = metrics.split('\n').filter((l) => l.startsWith(`warren_stream_records_committed_total{stream="order-log",group="${group}"`));
        expect(lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0), group).toBe(35);
      }
      expect(metrics).toContain('process_cpu_seconds_total');
      expect(metrics).toContain('process_start_time_seconds');
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exit, run.output()).toBe(0);
    expect(run.output()).toContain('SIGTERM received, stopping');
    // It left both groups (no member row), and each partition's committed offset is its last applied record.
    const members = await tables.db.query(`SELECT * FROM ${tables.prefix}stream_members`);
    expect(members.rowCount).toBe(0);
    for (const group of ['analytics', 'payments']) {
      const committed = await tables.db.query<{ partition: number; committed_offset: string | null }>(
        `SELECT partition, committed_offset FROM ${tables.prefix}stream_offsets WHERE stream = 'order-log' AND grp = $1 ORDER BY partition`,
        [group],
      );
      const last = await tables.db.query<{ partition: number; last: string }>(
        'SELECT partition, max(record_offset) AS last FROM order_log_ledger WHERE grp = $1 AND order_id LIKE $2 GROUP BY partition ORDER BY partition',
        [group, `${orderPrefix}-%`],
      );
      const lastOf = new Map(last.rows.map((r) => [r.partition, Number(r.last)]));
      for (const row of committed.rows) {
        expect(row.committed_offset === null ? null : Number(row.committed_offset), `${group} p${row.partition}`).toBe(lastOf.get(row.partition) ?? null);
      }
    }
  }, 90_000);

  it('runs a job worker and a stream group in one process: one /metrics with both, healthy, exit 0 on SIGTERM', async () => {
    // orders.yaml's jobs and consumers plus orders-stream.yaml's stream (event types renamed: a name is a job type or an event type).
    const jobs = parse(readFileSync('topology/orders.yaml', 'utf8')) as Record<string, unknown>;
    const log = parse(readFileSync('topology/orders-stream.yaml', 'utf8')) as { streams: unknown; events: Record<string, unknown> };
    const events = Object.fromEntries(Object.entries(log.events).map(([name, event]) => [`log.${name}`, event]));
    const dir = mkdtempSync(join(tmpdir(), 'warren-mixed-'));
    const topology = join(dir, 'mixed.yaml');
    writeFileSync(topology, stringify({ ...jobs, streams: log.streams, events }));
    const mixed = await createTestVhost('worker-stream-mixed');
    const mixedPlan = planOf(readFileSync(topology, 'utf8'));
    await declarePlanAt(mixed.url, mixedPlan);
    const port = await freePort();
    const run = warren(['inventory', 'order-log.notifications', '--topology', topology, '--metrics-port', String(port), '--table-prefix', tables.prefix], {
      AMQP_URL: mixed.url,
      DATABASE_URL: databaseUrl(),
    });
    try {
      await until('/healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 30_000);
      const client = await createJobClient({ topology: mixedPlan, amqpUrls: [mixed.url] });
      await client.enqueue('order.created', order(`${orderPrefix}-job`));
      for (let i = 0; i < 3; i++) await client.publishEvent('log.order.created', order(`${orderPrefix}-m${i}`), { idempotencyKey: `${orderPrefix}-m${i}.created` });
      await client.close();
      const metrics = async () => (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split('\n');
      const committed = (lines: string[]) =>
        lines.filter((l) => l.startsWith('warren_stream_records_committed_total{stream="order-log",group="notifications"')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
      await until('the job and the 3 events', async () => {
        const lines = await metrics();
        return lines.includes('warren_worker_succeeded_total{consumer="inventory"} 1') && committed(lines) === 3;
      }, 30_000);
    } finally {
      run.child.kill('SIGTERM');
    }
    try {
      expect(await run.exit, run.output()).toBe(0);
      const members = await tables.db.query(`SELECT * FROM ${tables.prefix}stream_members WHERE grp = 'notifications'`);
      expect(members.rowCount).toBe(0);
    } finally {
      await mixed.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('exits 1 naming DATABASE_URL when a stream group is given without it', async () => {
    const env: NodeJS.ProcessEnv = { AMQP_URL: vhost.url, DATABASE_URL: '' };
    const run = warren(['order-log.inventory', '--topology', 'topology/orders-stream.yaml'], env);
    expect(await run.exit).toBe(1);
    expect(run.output()).toMatch(/DATABASE_URL is not set: stream groups \(order-log\/inventory\)/);
  }, 30_000);

  it('exits 1 when the module\'s stream is not in the topology', async () => {
    const run = warren(['order-log.inventory', '--topology', 'topology/orders.yaml'], { AMQP_URL: vhost.url, DATABASE_URL: databaseUrl() });
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain('stream "order-log" is not in the topology');
  }, 30_000);
});
