import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVhost } from '../../src/broker/management.ts';
import { freePorts } from '../../src/broker/private-node.ts';
import type { DoctorReport } from '../../src/doctor/report.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { loadTopology } from '../../src/topology/load.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

const root = resolve(import.meta.dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI, as a user would. */
function warren(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile('node', ['bin/warren.js', ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

// Independent CLI runs (each mostly process start-up): run them side by side.
describe.concurrent('warren doctor against the shared broker', () => {
  let planted: TestVhost;
  let clean: TestVhost;

  beforeAll(async () => {
    [planted, clean] = await Promise.all([createTestVhost('doctor-planted'), createTestVhost('doctor-clean')]);
    // The planted problem: a quorum queue that drops a message after 5
    // deliveries and has nowhere to dead-letter it.
    await planted.management.put(`/queues/${encodeVhost(planted.vhost)}/payments-unsafe`, {
      durable: true,
      auto_delete: false,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 },
    });
    await declarePlanAt(clean.url, (await loadTopology(resolve(root, 'topology/orders.yaml'))).plan);
  });

  afterAll(async () => {
    await Promise.all([planted?.cleanup(), clean?.cleanup()]);
  });

  it('reports a quorum queue with a delivery limit and no dead-letter target, and exits 5', async () => {
    const run = await warren(['doctor', '--json'], { AMQP_URL: planted.url, RABBITMQ_MANAGEMENT_URL: planted.managementUrl });
    expect(run.code).toBe(5);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(report.vhost).toBe(planted.vhost);
    const problems = report.findings.filter((f) => f.severity === 'problem');
    expect(problems).toEqual([
      expect.objectContaining({ check: 'quorum-dead-letter', message: expect.stringContaining('payments-unsafe drops a message after 5 deliveries') }),
    ]);
  });

  it('gives a clean bill on the reference topology applied in a fresh vhost, and exits 0', async () => {
    const run = await warren(['doctor', '--topology', 'topology/orders.yaml', '--worker', 'warehouse', '--worker', 'inventory', '--json'], {
      AMQP_URL: clean.url,
      RABBITMQ_MANAGEMENT_URL: clean.managementUrl,
    });
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(run.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.rabbitmqVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.nodes[0]?.plugins).toHaveProperty('rabbitmq_consistent_hash_exchange');
    const drift = report.findings.find((f) => f.check === 'drift');
    expect(drift?.message).toMatch(/\d+ unchanged, 0 to create, 0 in conflict/);
    // The longest timeoutMs of the named worker modules is what consumer_timeout is compared with.
    const timeout = report.findings.find((f) => f.check === 'consumer-timeout');
    expect(timeout?.message).toContain('timeoutMs of worker warehouse');
  });

  it('reports a consumer_timeout no longer than the worker timeout (or says it cannot read it)', async () => {
    const run = await warren(['doctor', '--worker-timeout', '45m', '--json'], { AMQP_URL: clean.url, RABBITMQ_MANAGEMENT_URL: clean.managementUrl });
    const report = JSON.parse(run.stdout) as DoctorReport;
    const finding = report.findings.find((f) => f.check === 'consumer-timeout');
    const readable = typeof report.nodes[0]?.consumerTimeoutMs === 'number';
    // rabbitmqctl reaches the local node on our machines; elsewhere doctor can only warn.
    expect(finding?.severity).toBe(readable ? 'problem' : 'warning');
    expect(run.code).toBe(readable ? 5 : 0);
    expect(finding?.message).toContain('45m');
  });

  it('prints a readable report with the problem first', async () => {
    const run = await warren(['doctor'], { AMQP_URL: planted.url, RABBITMQ_MANAGEMENT_URL: planted.managementUrl });
    expect(run.code).toBe(5);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toContain(planted.vhost);
    expect(lines[1]).toMatch(/^ {2}PROBLEM {2}quorum queue payments-unsafe/);
    expect(run.stdout).toContain('1 problem found');
  });

  it('exits 4, without the password, when the broker is unreachable', async () => {
    const [amqpPort, managementPort] = await freePorts(2);
    const run = await warren(['doctor'], {
      AMQP_URL: `amqp://guest:hunter2@127.0.0.1:${amqpPort}`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:hunter2@127.0.0.1:${managementPort}`,
    });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('does not answer');
    expect(run.stdout + run.stderr).not.toContain('hunter2');
  });

  it('exits 1 on an invalid --worker-timeout', async () => {
    const run = await warren(['doctor', '--worker-timeout', 'soon'], { AMQP_URL: clean.url, RABBITMQ_MANAGEMENT_URL: clean.managementUrl });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--worker-timeout');
  });
});
