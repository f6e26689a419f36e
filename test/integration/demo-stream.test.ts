import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { brokerUrl, managementUrl } from '../support/broker.ts';
import { databaseUrl } from '../support/stream-groups.ts';

/**
 * `warren demo --topology topology/orders-stream.yaml`, shortened, as a user
 * runs it (a child process against the shared broker and PostgreSQL): order
 * events, the five consumer groups as worker processes, its own checks of
 * the ledger, a replay of one group; exit 0 and nothing left behind, or
 * non-zero saying what failed.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, AMQP_URL: brokerUrl(), RABBITMQ_MANAGEMENT_URL: managementUrl(), DATABASE_URL: databaseUrl(), WARREN_BROKER_FALLBACK: '0' };
  delete env.WARREN_API_TOKENS;
  delete env.WARREN_INSECURE;
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/warren.js', 'demo', '--topology', 'topology/orders-stream.yaml', ...args], { cwd: ROOT, env, timeout: 150_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The summary table: group → applied, duplicates, missing, key order, lag. */
function groupRows(stdout: string): Map<string, { applied: number; duplicates: number; missing: number; order: string; lag: string }> {
  const rows = new Map<string, { applied: number; duplicates: number; missing: number; order: string; lag: string }>();
  for (const line of stdout.split('\n')) {
    const match = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(held|BROKEN)\s+(\S+)$/.exec(line.trim());
    if (match) rows.set(match[1] as string, { applied: Number(match[2]), duplicates: Number(match[3]), missing: Number(match[4]), order: match[5] as string, lag: match[6] as string });
  }
  return rows;
}

function runIds(stderr: string): { vhost: string; prefix: string } {
  const vhost = /vhost (warren-demo-([0-9a-f]+))/.exec(stderr);
  if (!vhost) throw new Error(`no demo vhost in:\n${stderr}`);
  return { vhost: vhost[1] as string, prefix: `warren_demo_${vhost[2]}_` };
}

async function leftInPostgres(prefix: string, orderIdPrefix: string): Promise<{ tables: number; ledgerRows: number }> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const tables = await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE tablename LIKE $1", [`${prefix}%`]);
    const ledger = await db.query<{ exists: boolean }>("SELECT to_regclass('order_log_ledger') IS NOT NULL AS exists");
    const rows = ledger.rows[0]?.exists ? await db.query<{ n: string }>('SELECT count(*) AS n FROM order_log_ledger WHERE order_id LIKE $1', [`${orderIdPrefix}-%`]) : { rows: [{ n: '0' }] };
    return { tables: Number(tables.rows[0]?.n), ledgerRows: Number(rows.rows[0]?.n) };
  } finally {
    await db.end();
  }
}

describe('warren demo on topology/orders-stream.yaml', () => {
  it('publishes order events, checks each group applied each once and in order, replays one group from seconds ago, and cleans up', async () => {
    const run = await runDemo(['--orders', '60']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toMatch(/workers: .*order-log\.analytics .*order-log\.payments/);
    const rows = groupRows(run.stdout);
    expect([...rows.keys()].sort()).toEqual(['analytics', 'fraud-audit', 'inventory', 'notifications', 'payments']);
    const accepted = Number(/accepted: (\d+) of (\d+) events/.exec(run.stdout)?.[1]);
    expect(accepted).toBeGreaterThanOrEqual(60);
    for (const [group, row] of rows) {
      expect(row, group).toEqual({ applied: accepted, duplicates: 0, missing: 0, order: 'held', lag: '0' });
    }
    // The replay: analytics re-read the second wave (30 orders + every cancellation), and only that.
    const replay = /re-applied (\d+) records \(expected (\d+): .* had (\d+)\)/.exec(run.stdout);
    expect(replay, run.stdout).not.toBeNull();
    expect(Number(replay?.[1])).toBe(Number(replay?.[2]));
    expect(Number(replay?.[1])).toBe(Number(replay?.[3]));
    expect(Number(replay?.[1])).toBeGreaterThanOrEqual(30);
    expect(run.stdout).toMatch(/replay: group analytics reset --to "\d+s ago"/);
    expect(run.stdout).toContain('untouched: fraud-audit, inventory, notifications, payments');
    expect(run.stdout).toMatch(/OK: every group applied every accepted event exactly once/);
    const { vhost, prefix } = runIds(run.stderr);
    expect(await new ManagementClient(managementUrl()).get(`/vhosts/${encodeVhost(vhost)}`)).toBeUndefined();
    expect(await leftInPostgres(prefix, vhost.replace('warren-', ''))).toEqual({ tables: 0, ledgerRows: 0 });
    const logDir = /logs in (\S+)/.exec(run.stderr)?.[1];
    expect(existsSync(logDir ?? '')).toBe(false);
  }, 150_000);

  it('exits non-zero and says what failed when the groups cannot catch up in time, and still cleans up', async () => {
    const run = await runDemo(['--orders', '40', '--timeout', '0']);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('FAILED:');
    expect(run.stdout).toContain('the groups did NOT commit everything before the timeout');
    expect(run.stdout).not.toContain('replay: group');
    const { vhost, prefix } = runIds(run.stderr);
    expect(await new ManagementClient(managementUrl()).get(`/vhosts/${encodeVhost(vhost)}`)).toBeUndefined();
    expect(await leftInPostgres(prefix, vhost.replace('warren-', ''))).toEqual({ tables: 0, ledgerRows: 0 });
    const logDir = /logs of the producer and the workers: (\S+)/.exec(run.stderr)?.[1];
    expect(existsSync(logDir ?? '')).toBe(true);
    await rm(logDir ?? '', { recursive: true, force: true });
  }, 150_000);
});
