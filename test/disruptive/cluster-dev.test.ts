import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../src/broker/connection.ts';
import { ManagementClient } from '../../src/broker/management.ts';
import { parseAmqpUrls, parseManagementUrls } from '../../src/broker/urls.ts';
import type { DoctorReport } from '../../src/doctor/report.ts';
import { LocalCluster } from '../../src/provision/cluster.ts';
import { managementUrl as sharedManagementUrl } from '../support/broker.ts';

/**
 * `warren dev cluster up|down` as a user runs it: three private nodes joined
 * into one cluster, apart from the machine's shared node; then what a
 * cluster asks of warren — connections spread over the nodes, the
 * management API and doctor surviving the loss of a node. One cluster for
 * the whole file (it takes about 30 s to start on an idle machine).
 */
const root = resolve(import.meta.dirname, '../..');
const parent = mkdtempSync(join(tmpdir(), 'warren-cluster-test-'));
// The nodes run as the rabbitmq user when we are root: let it through.
chmodSync(parent, 0o755);
const dir = join(parent, 'cluster');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function warren(args: string[], env: Record<string, string> = {}, timeout = 240_000): Promise<Run> {
  return new Promise((done) => {
    execFile('node', ['bin/warren.js', ...args], { cwd: root, env: { ...process.env, ...env }, timeout }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** `export NAME='value'` lines → { NAME: value } */
function exported(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

let env: Record<string, string> = {};
let cluster: LocalCluster | undefined;

beforeAll(async () => {
  const up = await warren(['dev', 'cluster', 'up', '--dir', dir]);
  expect(up.code, up.stderr).toBe(0);
  env = exported(up.stdout);
  cluster = LocalCluster.open(dir);
}, 300_000);

afterAll(async () => {
  // `down` is under test below; this is the safety net when a test failed before it.
  await LocalCluster.open(dir)?.destroy();
  rmSync(parent, { recursive: true, force: true });
}, 120_000);

describe('warren dev cluster', () => {
  it('prints every node in AMQP_URL and RABBITMQ_MANAGEMENT_URL; the nodes form one cluster of three, without the shared node', async () => {
    expect(parseAmqpUrls(env.AMQP_URL)).toHaveLength(3);
    expect(parseManagementUrls(env.RABBITMQ_MANAGEMENT_URL)).toHaveLength(3);
    const nodes = (await new ManagementClient(env.RABBITMQ_MANAGEMENT_URL).get<Array<{ name: string; running: boolean }>>('/nodes')) ?? [];
    expect(nodes.map((n) => n.name).sort()).toEqual(cluster?.nodes.map((n) => n.nodeName).sort());
    expect(nodes.every((n) => n.running)).toBe(true);
    // The shared node is still a cluster of one.
    const shared = (await new ManagementClient(sharedManagementUrl()).get<Array<{ name: string }>>('/nodes')) ?? [];
    expect(shared.map((n) => n.name)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^warren-/)]));
    expect(shared).toHaveLength(1);
  });

  it('up again finds the running cluster and prints the same exports', async () => {
    const again = await warren(['dev', 'cluster', 'up', '--dir', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already up');
    expect(exported(again.stdout)).toEqual(env);
  });

  it('spreads connections over the nodes instead of starting each at the first URL', async () => {
    const urls = parseAmqpUrls(env.AMQP_URL);
    const connections = Array.from({ length: 6 }, (_, i) => new BrokerConnection({ urls, name: `spread-${i}` }));
    try {
      await Promise.all(connections.map((c) => c.waitForConnect(30_000)));
      const perNode = new Map<string, number>();
      for (const c of connections) perNode.set(c.state.url ?? '', (perNode.get(c.state.url ?? '') ?? 0) + 1);
      // Consecutive connections of one process start one node further each: two per node.
      expect([...perNode.values()]).toEqual([2, 2, 2]);
    } finally {
      await Promise.all(connections.map((c) => c.close()));
    }
  });

  it('doctor reports the cluster, classic queues on it and piled-up leaders', async () => {
    const management = new ManagementClient(env.RABBITMQ_MANAGEMENT_URL);
    // Two classic queues, both on the node the declaring connection landed on.
    for (const name of ['doctor-classic-a', 'doctor-classic-b']) {
      await management.put(`/queues/%2F/${name}`, { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic' } });
    }
    const run = await warren(['doctor', '--json'], env, 120_000);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(report.nodes).toHaveLength(3);
    const checks = report.findings.map((f) => `${f.severity} ${f.check}`);
    expect(checks).toContain('info cluster');
    expect(checks).toContain('warning classic-on-cluster');
    expect(checks).toContain('warning leaders');
    expect(report.findings.find((f) => f.check === 'cluster')?.message).toContain('cluster of 3 nodes, 3 running');
  });

  it('survives the loss of the node leading most queues: management API, doctor and new connections go to the others', async () => {
    const live = cluster as LocalCluster;
    const { node } = await live.busiestNode();
    // Put the dead node first in every list, as a user's AMQP_URL may.
    const first = <T>(all: T[], item: T) => [item, ...all.filter((x) => x !== item)];
    const amqpUrls = first(live.amqpUrls, node.amqpUrl);
    const managementUrls = first(live.managementUrls, node.managementUrl);
    await live.kill(node);

    // The API answers from a survivor at once (the dead node first in the list); the survivors
    // mark the node down once they notice it gone, which under load takes a moment.
    const management = new ManagementClient(managementUrls);
    const runningOf = async () => ((await management.get<Array<{ name: string; running: boolean }>>('/nodes')) ?? []).find((n) => n.name === node.nodeName)?.running;
    await expect.poll(runningOf, { timeout: 30_000, interval: 500 }).toBe(false);

    const connection = new BrokerConnection({ urls: amqpUrls, firstUrl: 0, name: 'after-loss' });
    try {
      await connection.waitForConnect(30_000);
      expect(connection.state.url).not.toContain(`:${node.spec.amqpPort}`);
    } finally {
      await connection.close();
    }

    const run = await warren(['doctor', '--json'], { AMQP_URL: amqpUrls.join(','), RABBITMQ_MANAGEMENT_URL: managementUrls.join(',') }, 120_000);
    expect(run.code, run.stderr).toBe(5);
    const report = JSON.parse(run.stdout) as DoctorReport;
    expect(report.broker).not.toContain(`:${node.spec.amqpPort}`);
    expect(report.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ severity: 'problem', check: 'nodes', message: `node ${node.nodeName} is not running` }),
        expect.objectContaining({ severity: 'problem', check: 'classic-on-cluster' }),
      ]),
    );

    // `warren demo` (apply, producer, every worker, DLQ read-back) with the dead node first in both lists.
    const demoEnv = { AMQP_URL: amqpUrls.join(','), RABBITMQ_MANAGEMENT_URL: managementUrls.join(','), WARREN_BROKER_FALLBACK: '0', WARREN_API_TOKENS: '' };
    const demo = await warren(['demo', '--topology', 'topology/orders.yaml', '--orders', '100', '--timeout', '120'], demoEnv, 240_000);
    expect(demo.code, demo.stderr.slice(-2000)).toBe(0);
    expect(demo.stderr).toContain('and 2 more node(s)');

    await live.restart(node);
    expect((await live.nodeStatus()).get(node.nodeName)).toBe(true);
  }, 420_000);

  it('down stops the nodes and removes their files', async () => {
    const pidFiles = (cluster as LocalCluster).nodes.map((n) => join(n.spec.dir, 'rabbit.pid'));
    expect(pidFiles.every((f) => existsSync(f))).toBe(true);
    const down = await warren(['dev', 'cluster', 'down', '--dir', dir], {}, 120_000);
    expect(down.code, down.stderr).toBe(0);
    expect(existsSync(join(dir, 'cluster.json'))).toBe(false);
    expect(await new ManagementClient(env.RABBITMQ_MANAGEMENT_URL).isReachable()).toBe(false);
    const again = await warren(['dev', 'cluster', 'down', '--dir', dir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to stop');
  }, 120_000);
});
