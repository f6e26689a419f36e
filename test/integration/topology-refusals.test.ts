import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { createTestVhost, managementUrl, type TestVhost } from '../support/broker.ts';

/**
 * `warren topology apply` against what the broker would refuse: an invalid
 * file, permissions that forbid part of the plan, and a declaration refused
 * mid-way. Nothing is ever half-declared without saying so, and no stack
 * trace reaches the terminal.
 */

const run = promisify(execFile);
const ORDERS = 'topology/orders.yaml';

async function warren(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/warren.js', ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A stack frame as Node prints it: `    at fn (file:line:col)`. */
const STACK_LINE = /^\s+at\s/m;

describe('warren topology apply refuses instead of declaring part of a file', () => {
  let vhost: TestVhost;
  beforeAll(async () => {
    vhost = await createTestVhost('topology-refusals');
  });
  afterAll(async () => {
    await vhost?.cleanup();
  });

  const ours = async () => {
    const v = encodeVhost(vhost.vhost);
    const exchanges = ((await vhost.management.get<{ name: string }[]>(`/exchanges/${v}`)) ?? []).map((e) => e.name).filter((n) => n !== '' && !n.startsWith('amq.'));
    const queues = ((await vhost.management.get<{ name: string }[]>(`/queues/${v}`)) ?? []).map((q) => q.name);
    return [...exchanges, ...queues];
  };
  const setPermissions = (user: string, configure: string) =>
    vhost.management.put(`/permissions/${encodeVhost(vhost.vhost)}/${encodeURIComponent(user)}`, { configure, write: '.*', read: '.*' });

  it('an invalid file: exit 1, every problem with file:line:col, no stack trace, nothing declared', async () => {
    const env = { AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl };
    for (const fixture of ['broker-refusals.yaml', 'reserved-names.yaml', 'long-routing-keys.yaml', 'long-derived-names.yaml']) {
      const file = `test/fixtures/topology/${fixture}`;
      const result = await warren(env, 'topology', 'apply', file);
      expect(result.code, fixture).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines.length, fixture).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(line, fixture).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
      expect(result.stderr + result.stdout).not.toMatch(STACK_LINE);
    }
    expect(await ours()).toEqual([]);
  });

  it('permissions that forbid part of the plan: exit 3 naming each refusal, nothing declared', async () => {
    await setPermissions('guest', '^(orders|inventory)');
    try {
      const env = { AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl };
      const result = await warren(env, 'topology', 'apply', ORDERS);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/^apply refused: the broker would refuse \d+ declarations for user "guest" \(nothing was declared\):/);
      expect(result.stderr).toContain('queue loyalty: user "guest" has no configure permission on queue "loyalty" (its configure pattern is "^(orders|inventory)")');
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(await ours()).toEqual([]);
    } finally {
      await setPermissions('guest', '.*');
    }
  });

  describe('a declaration the broker refuses mid-way (permissions not readable beforehand)', () => {
    // A user with the management tag only: it may read its vhost but not its own
    // permissions, so apply cannot check them first and meets the broker's 403.
    const user = `warren-topology-${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const admin = new ManagementClient(managementUrl());
    beforeAll(async () => {
      await admin.put(`/users/${encodeURIComponent(user)}`, { password, tags: 'management' });
      await setPermissions(user, '^fraud-audit\\.dlx$');
    });
    afterAll(async () => {
      await admin.delete(`/users/${encodeURIComponent(user)}`);
    });

    it('one clear line with the broker\'s reason and what was declared, exit 3, no stack trace', async () => {
      const amqp = new URL(vhost.url);
      amqp.username = user;
      amqp.password = password;
      const management = new URL(vhost.managementUrl);
      management.username = user;
      management.password = password;
      const result = await warren({ AMQP_URL: amqp.toString(), RABBITMQ_MANAGEMENT_URL: management.toString() }, 'topology', 'apply', ORDERS);
      expect(result.code).toBe(3);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      // Exchanges are declared in name order: fraud-audit.dlx (allowed), then inventory.dlx.
      expect(lines[0]).toMatch(
        /^apply failed: the broker refused to declare exchange "inventory\.dlx": ACCESS_REFUSED - access to exchange 'inventory\.dlx' in vhost '[^']+' refused for user 'warren-topology-[0-9a-f]+'; 1 of \d+ objects were declared before it/,
      );
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(result.stderr).not.toContain(password);
    });
  });
});
