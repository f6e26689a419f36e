import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBroker } from '../../src/broker/find-broker.ts';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import type { DoctorReport } from '../../src/doctor/report.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * A broker without the consistent-hash plugin, for real: a private node
 * started with rabbitmq_management only. findBroker must refuse it (and not
 * quietly start another broker), and doctor must name the missing plugin.
 */
describe('a broker without rabbitmq_consistent_hash_exchange', () => {
  let node: PrivateNode;

  beforeAll(async () => {
    node = await startPrivateNode({ plugins: ['rabbitmq_management'] });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('findBroker refuses it with the command that fixes it, even with the fallback allowed', async () => {
    const env = { AMQP_URL: node.amqpUrl, RABBITMQ_MANAGEMENT_URL: node.managementUrl };
    const error = await findBroker({ env, fallback: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toContain('rabbitmq-plugins enable rabbitmq_consistent_hash_exchange');
  });

  it('warren doctor reports the missing plugin and exits 5', async () => {
    const run = await new Promise<{ code: number; stdout: string }>((done) => {
      execFile(
        'node',
        ['bin/warren.js', 'doctor', '--json'],
        { cwd: root, env: { ...process.env, AMQP_URL: node.amqpUrl, RABBITMQ_MANAGEMENT_URL: node.managementUrl }, timeout: 90_000 },
        (error, stdout) => done({ code: error ? Number(error.code) : 0, stdout }),
      );
    });
    expect(run.code).toBe(5);
    const report = JSON.parse(run.stdout) as DoctorReport;
    const problems = report.findings.filter((f) => f.severity === 'problem');
    expect(problems).toEqual([
      expect.objectContaining({ check: 'plugins', message: expect.stringContaining('lacks rabbitmq_consistent_hash_exchange') }),
    ]);
    expect(report.nodes[0]?.plugins).toHaveProperty('rabbitmq_management');
  });
});
