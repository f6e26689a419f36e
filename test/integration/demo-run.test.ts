import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { brokerUrl, managementUrl } from '../support/broker.ts';

/**
 * `warren demo`, shortened, as a user runs it (a child process against the
 * shared broker): it must check its own counts, say so, exit 0, and leave
 * no vhost behind; and exit non-zero when its checks fail.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.WARREN_API_TOKENS;
  delete base.WARREN_INSECURE;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/warren.js', 'demo', '--topology', 'topology/orders.yaml', ...args],
      { cwd: ROOT, env: { ...base, AMQP_URL: brokerUrl(), RABBITMQ_MANAGEMENT_URL: managementUrl(), WARREN_BROKER_FALLBACK: '0', ...env }, timeout: 150_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The summary table: consumer → its numeric columns. */
function summaryRows(stdout: string): Map<string, { routed: number; processed: number; retried: number; inDlq: number; left: number }> {
  const rows = new Map<string, { routed: number; processed: number; retried: number; inDlq: number; left: number }>();
  for (const line of stdout.split('\n')) {
    const match = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line.trim());
    if (match) rows.set(match[1] as string, { routed: Number(match[2]), processed: Number(match[3]), retried: Number(match[4]), inDlq: Number(match[5]), left: Number(match[6]) });
  }
  return rows;
}

function demoVhost(stderr: string): string {
  const vhost = /vhost (warren-demo-[0-9a-f]+)/.exec(stderr)?.[1];
  if (!vhost) throw new Error(`no demo vhost in:\n${stderr}`);
  return vhost;
}

describe('warren demo', () => {
  it('runs 200 orders end to end, checks its counts and exits 0 with nothing left behind (tokens of the user in the environment or not)', async () => {
    // The user's WARREN_API_TOKENS do not hold the demo's token: it sends with one of its own.
    const run = await runDemo(['--orders', '200', '--poison', '4'], { WARREN_API_TOKENS: 'demo-user-token:enqueue' });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toMatch(/admin token for this run: \S+/);
    expect(run.stdout).toContain('accepted: ');
    expect(run.stdout).toMatch(/OK: every accepted job was processed/);
    const rows = summaryRows(run.stdout);
    expect([...rows.keys()].sort()).toEqual(['fraud-audit', 'inventory', 'loyalty', 'payments', 'recommendation', 'warehouse']);
    const created = rows.get('warehouse')?.routed ?? 0;
    expect(created).toBe(200);
    for (const [consumer, row] of rows) {
      expect(row.left, consumer).toBe(0);
      expect(row.processed, consumer).toBe(row.routed - row.inDlq);
    }
    // The poison orders end in fraud-audit's DLQ, and only there.
    expect(rows.get('fraud-audit')?.inDlq).toBe(4);
    expect([...rows.values()].reduce((n, r) => n + r.inDlq, 0)).toBe(4);
    // order.cancelled reaches inventory, payments and fraud-audit, not the order.created-only ones.
    expect(rows.get('inventory')?.routed).toBeGreaterThan(created);
    expect(rows.get('inventory')?.retried).toBeGreaterThanOrEqual(4);
    expect(run.stdout).toContain('warren dlq replay fraud-audit.dlq --topology topology/orders.yaml');
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/guest:guest@/);
    // A passing run removes its log files too.
    const logDir = /logs in (\S+)/.exec(run.stderr)?.[1];
    expect(logDir).toBeDefined();
    expect(existsSync(logDir ?? '')).toBe(false);
    const vhost = demoVhost(run.stderr);
    expect(await new ManagementClient(managementUrl()).get(`/vhosts/${encodeVhost(vhost)}`)).toBeUndefined();
  }, 150_000);

  it('stops at once when sending fails, instead of waiting for queues that cannot drain', async () => {
    // Every batch is over this body limit: each one is refused with 413.
    const run = await runDemo(['--orders', '100', '--timeout', '600'], { WARREN_BODY_LIMIT: '100b' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/!! sending failed: \d+ of \d+ jobs refused \(#\d+: 413 .*\); not waiting for the queues to drain/);
    expect(run.stderr).not.toMatch(/draining:|not drained/);
    expect(run.stderr).toMatch(/jobs were not accepted/);
    const vhost = demoVhost(run.stderr);
    expect(await new ManagementClient(managementUrl()).get(`/vhosts/${encodeVhost(vhost)}`)).toBeUndefined();
    const logDir = /logs of the producer and the workers: (\S+)/.exec(run.stderr)?.[1];
    await rm(logDir ?? '', { recursive: true, force: true });
  }, 150_000);

  it('exits non-zero and says which checks failed when the queues cannot drain in time, and still cleans up', async () => {
    const run = await runDemo(['--orders', '100', '--timeout', '0']);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('FAILED:');
    expect(run.stderr).toContain('the queues did not drain before the timeout');
    const vhost = demoVhost(run.stderr);
    expect(await new ManagementClient(managementUrl()).get(`/vhosts/${encodeVhost(vhost)}`)).toBeUndefined();
    // A failed run keeps its logs to look into, and says where.
    const logDir = /logs of the producer and the workers: (\S+)/.exec(run.stderr)?.[1];
    expect(logDir).toBeDefined();
    expect(existsSync(join(logDir ?? '', 'inventory.log'))).toBe(true);
    await rm(logDir ?? '', { recursive: true, force: true });
  }, 150_000);
});
