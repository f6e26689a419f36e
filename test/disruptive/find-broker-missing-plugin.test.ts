import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBroker } from '../../src/broker/find-broker.ts';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import type { DoctorReport } from '../../src/doctor/report.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';
import { loadTopology } from '../../src/topology/load.ts';
import { pluginsNeededBy } from '../../src/topology/plugins.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * A broker without the consistent-hash plugin, for real: a private node
 * started with rabbitmq_management only. findBroker takes it unless the
 * topology declares an x-consistent-hash exchange, then refuses it (and does
 * not quietly start another broker); doctor names the missing plugin when
 * the topology declares one, and only then.
 */
describe('a broker without rabbitmq_consistent_hash_exchange', () => {
  let node: PrivateNode;

  beforeAll(async () => {
    node = await startPrivateNode({ plugins: ['rabbitmq_management'] });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('findBroker takes it for a topology without an x-consistent-hash exchange (orders.yaml), and refuses it with the fix, even with the fallback allowed, for one that declares one', async () => {
    const env = { AMQP_URL: node.amqpUrl, RABBITMQ_MANAGEMENT_URL: node.managementUrl };
    const { plan } = await loadTopology('topology/orders.yaml');
    const found = await findBroker({ env, fallback: true, plugins: pluginsNeededBy(plan) });
    expect(found).toMatchObject({ amqpUrl: node.amqpUrl, source: 'env' });
    const error = await findBroker({ env, fallback: true, plugins: pluginsNeededBy({ exchanges: [{ name: 'by-key', type: 'x-consistent-hash', durable: true, autoDelete: false, internal: false, arguments: {} }] }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toContain('rabbitmq-plugins enable rabbitmq_consistent_hash_exchange');
  });

  const doctor = (...args: string[]) =>
    new Promise<{ code: number; report: DoctorReport }>((done) => {
      execFile(
        'node',
        ['bin/warren.js', 'doctor', '--json', ...args],
        { cwd: root, env: { ...process.env, AMQP_URL: node.amqpUrl, RABBITMQ_MANAGEMENT_URL: node.managementUrl }, timeout: 90_000 },
        (error, stdout) => done({ code: error ? Number(error.code) : 0, report: JSON.parse(stdout) as DoctorReport }),
      );
    });

  it('warren doctor reports the missing plugin and exits 5 when the topology declares an x-consistent-hash exchange', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-hash-'));
    const file = join(dir, 'hash.yaml');
    writeFileSync(file, 'version: 1\nexchanges:\n  by-key: { type: x-consistent-hash }\n');
    try {
      const { code, report } = await doctor('--topology', file);
      expect(code).toBe(5);
      const problems = report.findings.filter((f) => f.severity === 'problem');
      expect(problems).toEqual([
        expect.objectContaining({ check: 'plugins', message: expect.stringContaining('lacks rabbitmq_consistent_hash_exchange') }),
      ]);
      expect(report.nodes[0]?.plugins).toHaveProperty('rabbitmq_management');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warren doctor does not demand it for orders.yaml, whose sharded consumer routes through a headers exchange', async () => {
    const { report } = await doctor('--topology', 'topology/orders.yaml');
    expect(report.findings.filter((f) => f.check === 'plugins')).toEqual([]);
    const bare = await doctor();
    expect(bare.report.findings.filter((f) => f.check === 'plugins')).toEqual([
      expect.objectContaining({ severity: 'info', message: expect.stringContaining('lacks rabbitmq_consistent_hash_exchange') }),
    ]);
  });
});
