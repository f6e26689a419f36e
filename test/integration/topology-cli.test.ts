import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVhost } from '../../src/broker/management.ts';
import type { Change } from '../../src/topology/diff.ts';
import { parseTopology } from '../../src/topology/load.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

const run = promisify(execFile);
const ORDERS = 'topology/orders.yaml';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function warren(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run('node', ['bin/warren.js', ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const changesOf = (result: CliResult): Change[] => (JSON.parse(result.stdout) as { changes: Change[] }).changes;
const count = (changes: Change[], action: Change['action']) => changes.filter((c) => c.action === action).length;

function ordersPlan() {
  const result = parseTopology(readFileSync(ORDERS, 'utf8'), ORDERS);
  if (!result.ok) throw new Error('orders.yaml must be valid');
  return result.value.plan;
}

describe('warren topology (CLI against the broker)', () => {
  let target: TestVhost;
  let imported: TestVhost;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'warren-topology-'));

  beforeAll(async () => {
    target = await createTestVhost('topology-cli');
    imported = await createTestVhost('topology-import');
    env = { AMQP_URL: target.url, RABBITMQ_MANAGEMENT_URL: target.managementUrl };
  });
  afterAll(async () => {
    await target?.cleanup();
    await imported?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('validate prints file:line:col per error, exits 1, and needs no broker', async () => {
    const result = await warren(
      { AMQP_URL: 'amqp://nobody:secret@127.0.0.1:1', RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:1' },
      'topology',
      'validate',
      'test/fixtures/topology/bad-duration.yaml',
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^test\/fixtures\/topology\/bad-duration\.yaml:7:20: .*invalid duration "10x"/);
    const ok = await warren({ AMQP_URL: 'amqp://nobody:secret@127.0.0.1:1' }, 'topology', 'validate', ORDERS);
    expect(ok.code).toBe(0);
  });

  it('apply on an empty vhost creates exactly the plan; a second apply changes nothing', async () => {
    const plan = ordersPlan();
    const first = await warren(env, 'topology', 'apply', ORDERS, '--json');
    expect(first.code).toBe(0);
    const created = changesOf(first);
    expect(count(created, 'create')).toBe(plan.exchanges.length + plan.queues.length + plan.bindings.length);

    const v = encodeVhost(target.vhost);
    const queues = (await target.management.get<{ name: string }[]>(`/queues/${v}`)) ?? [];
    expect(queues.map((q) => q.name).sort()).toEqual(plan.queues.map((q) => q.name).sort());
    const exchanges = (await target.management.get<{ name: string }[]>(`/exchanges/${v}`)) ?? [];
    const ours = exchanges.map((e) => e.name).filter((n) => n !== '' && !n.startsWith('amq.'));
    expect(ours.sort()).toEqual(plan.exchanges.map((e) => e.name).sort());

    const second = await warren(env, 'topology', 'apply', ORDERS, '--json');
    expect(second.code).toBe(0);
    expect(count(changesOf(second), 'create')).toBe(0);
    expect(count(changesOf(second), 'unchanged')).toBe(created.length);
  });

  it('a changed queue argument is a CONFLICT in plan and refused by apply, leaving the broker untouched', async () => {
    const changed = join(dir, 'orders-changed.yaml');
    writeFileSync(
      changed,
      readFileSync(ORDERS, 'utf8')
        .replace('retry: { delays: [1s, 10s, 1m] }\n\n  # Credits', 'retry: { delays: [2s, 10s, 1m] }\n\n  # Credits')
        .replace('queueOptions: { maxLength: 1000000, overflow: reject-publish }', 'queueOptions: { maxLength: 500, overflow: reject-publish }'),
    );
    const before = await target.management.get<unknown[]>(`/queues/${encodeVhost(target.vhost)}?columns=name,arguments`);

    const plan = await warren(env, 'topology', 'plan', changed);
    expect(plan.code).toBe(3);
    expect(plan.stdout).toMatch(/CONFLICT\s+queue\s+warehouse\n\s+arguments\.x-max-length: 1000000 on the broker, 500 in the file/);
    // A new retry tier is a create, not a conflict.
    expect(plan.stdout).toMatch(/create\s+queue\s+inventory\.retry\.2s/);

    const apply = await warren(env, 'topology', 'apply', changed, '--json');
    expect(apply.code).toBe(3);
    expect(changesOf(apply).filter((c) => c.action === 'conflict')).toEqual([
      { action: 'conflict', kind: 'queue', name: 'warehouse', diff: { 'arguments.x-max-length': { old: 1_000_000, new: 500 } } },
    ]);
    expect(apply.stderr).toContain('nothing was declared');
    const after = await target.management.get<unknown[]>(`/queues/${encodeVhost(target.vhost)}?columns=name,arguments`);
    expect(after).toEqual(before);
  });

  it('never prints the password of AMQP_URL', async () => {
    const result = await warren(
      { AMQP_URL: 'amqp://guest:s3cr3t-pw@127.0.0.1:1/x', RABBITMQ_MANAGEMENT_URL: 'http://guest:s3cr3t-pw@127.0.0.1:1' },
      'topology',
      'plan',
      ORDERS,
    );
    expect(result.code).toBe(4);
    expect(result.stdout + result.stderr).not.toContain('s3cr3t-pw');
    expect(result.stderr).toContain('***');
  });

  it('export imports with rabbitmqctl import_definitions, and plan then reports everything unchanged', async () => {
    const file = join(dir, 'definitions.json');
    const exported = await warren(env, 'topology', 'export', ORDERS, '--vhost', imported.vhost, '--out', file);
    expect(exported.code).toBe(0);
    // rabbitmqctl drops to the rabbitmq user, which must be able to read the file.
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);
    await run('rabbitmqctl', ['import_definitions', file]);
    const importedEnv = { AMQP_URL: imported.url, RABBITMQ_MANAGEMENT_URL: imported.managementUrl };
    const plan = await warren(importedEnv, 'topology', 'plan', ORDERS, '--json');
    expect(plan.code).toBe(0);
    const changes = changesOf(plan);
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.filter((c) => c.action !== 'unchanged')).toEqual([]);
  });
});
