import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'amqplib';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { withVhost } from '../../src/broker/urls.ts';
import { brokerUrl, createTestVhost, managementUrl, uniqueName, type TestVhost } from '../support/broker.ts';

/**
 * `warren up` as a user runs it, in a vhost of its own: the producer and
 * one process per example worker; the non-TTY view prints JSON lines; a job
 * sent over REST is processed by every consumer it routes to; a missing
 * PostgreSQL skips the loyalty worker loudly; SIGTERM stops every child and
 * exits 0; a conflicting topology exits 3 and starts nothing.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface ViewLine {
  insecure: boolean;
  consumers: Array<{ consumer: string; state: string; processed: number }>;
}

const started: UpProcess[] = [];

class UpProcess {
  stdout = '';
  stderr = '';
  readonly exit: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(env: NodeJS.ProcessEnv, args: string[] = []) {
    const base: NodeJS.ProcessEnv = { ...process.env, WARREN_BROKER_FALLBACK: '0' };
    delete base.WARREN_API_TOKENS;
    delete base.WARREN_INSECURE;
    this.child = spawn(process.execPath, ['bin/warren.js', 'up', '--topology', 'topology/orders.yaml', '--port', '0', '--interval', '500', ...args], {
      cwd: ROOT,
      env: { ...base, ...env },
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    started.push(this);
  }

  async until<T>(find: () => T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = find();
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out waiting for ${what}\nstdout:\n${this.stdout.slice(-2000)}\nstderr:\n${this.stderr}`);
  }

  lastView(): ViewLine | undefined {
    const lines = this.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
    const last = lines.at(-1);
    return last ? (JSON.parse(last) as ViewLine) : undefined;
  }

  workerPids(): number[] {
    return [...this.stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
  }

  /** `warren up` keeps its log files (it says where); a test removes them. */
  logDir(): string | undefined {
    return /logs in (\S+)/.exec(this.stderr)?.[1];
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ORDER = {
  orderId: 'up-test-1',
  customerId: 'cust-1',
  items: [{ sku: 'MUG-BLUE', quantity: 2, price: 9.5 }],
  total: 19,
  currency: 'EUR',
  createdAt: new Date().toISOString(),
};

describe('warren up', () => {
  let vhost: TestVhost;
  let conflictVhost: TestVhost;

  beforeAll(async () => {
    [vhost, conflictVhost] = await Promise.all([createTestVhost('warren-up'), createTestVhost('warren-up-conflict')]);
  });
  afterAll(async () => {
    await Promise.all([vhost?.cleanup(), conflictVhost?.cleanup()]);
    await Promise.all(started.map((up) => up.logDir()).map((dir) => (dir ? rm(dir, { recursive: true, force: true }) : undefined)));
  });

  it('runs the producer and the workers, shows them, skips loyalty without PostgreSQL, and stops everything on SIGTERM', async () => {
    // The user's own tokens are set: up adds an admin token of its own and prints it; theirs keep working.
    const up = new UpProcess({ AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', WARREN_API_TOKENS: 'up-user-token:enqueue' });
    const producerUrl = await up.until(() => /producer: (http:\S+)/.exec(up.stderr)?.[1], 'the producer line');
    const token = await up.until(() => /admin token for this run: (\S+)/.exec(up.stderr)?.[1], 'the token line');
    await up.until(() => (up.lastView()?.consumers.length ? true : undefined), 'a view line');
    expect(up.lastView()?.insecure).toBe(false);
    expect(up.stderr).toMatch(/!! worker loyalty NOT started: .*DATABASE_URL/);
    const postOrder = (headers: Record<string, string>) =>
      fetch(`${producerUrl}/v1/jobs/order.created`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(ORDER) });
    expect((await postOrder({})).status).toBe(401);
    expect((await fetch(`${producerUrl}/v1/queues`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${producerUrl}/v1/queues`, { headers: { authorization: 'Bearer up-user-token' } })).status).toBe(403);
    const response = await postOrder({ authorization: 'Bearer up-user-token' });
    expect(response.status).toBe(202);
    const view = await up.until(() => {
      const line = up.lastView();
      const running = line?.consumers.filter((c) => c.state === 'running') ?? [];
      return running.length === 5 && running.every((c) => c.processed === 1) ? line : undefined;
    }, 'the order processed by the five running consumers');
    expect(view.consumers.find((c) => c.consumer === 'loyalty')?.state).toBe('skipped');
    const pids = up.workerPids();
    expect(pids).toHaveLength(5);
    up.kill('SIGTERM');
    expect(await up.exit).toBe(0);
    expect(up.stderr).toContain('warren up: stopped');
    expect(pids.filter(alive)).toEqual([]);
    expect(`${up.stdout}${up.stderr}`).not.toMatch(/guest:guest@/);
  }, 120_000);

  it('a SIGTERM while the workers are starting still stops every one of them and exits 0', async () => {
    const up = new UpProcess({ AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl });
    await up.until(() => (/producer: http/.test(up.stderr) ? true : undefined), 'the producer line');
    up.kill('SIGTERM');
    expect(await up.exit).toBe(0);
    expect(up.stderr).toContain('while starting; stopping everything once it is up');
    const pids = up.workerPids();
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(up.stdout).toBe('');
  }, 120_000);

  it('creates the vhost AMQP_URL names when it does not exist yet, on that broker; --insecure says so in the view and /readyz', async () => {
    const name = uniqueName('warren-up-new');
    const management = new ManagementClient(managementUrl());
    try {
      const up = new UpProcess({ AMQP_URL: withVhost(brokerUrl(), name), RABBITMQ_MANAGEMENT_URL: managementUrl() }, ['--insecure']);
      await up.until(() => (/workers: /.test(up.stderr) ? true : undefined), 'the workers line');
      expect(up.stderr).toContain(`(env), vhost ${name}`);
      expect(await management.get(`/queues/${encodeVhost(name)}/inventory`)).toBeDefined();
      // Open by explicit choice, and said on every surface: a loud line, every view line, /readyz.
      expect(up.stderr).toMatch(/!! producer INSECURE: no API tokens/);
      expect(up.stderr).not.toContain('admin token for this run');
      const view = await up.until(() => up.lastView(), 'a view line');
      expect(view.insecure).toBe(true);
      const producerUrl = /producer: (http:\S+)/.exec(up.stderr)?.[1] ?? '';
      expect(await (await fetch(`${producerUrl}/readyz`)).json()).toMatchObject({ insecure: true });
      up.kill('SIGTERM');
      expect(await up.exit).toBe(0);
    } finally {
      await management.delete(`/vhosts/${encodeVhost(name)}`);
    }
  }, 120_000);

  it('refuses a topology that conflicts with the broker: exit 3, nothing started', async () => {
    const connection = await connect(conflictVhost.url);
    const channel = await connection.createChannel();
    await channel.assertQueue('inventory', { durable: true, arguments: { 'x-max-length': 7 } });
    await connection.close();
    const up = new UpProcess({ AMQP_URL: conflictVhost.url, RABBITMQ_MANAGEMENT_URL: conflictVhost.managementUrl });
    expect(await up.exit).toBe(3);
    expect(up.stdout).toMatch(/CONFLICT/i);
    expect(up.stderr).toContain('nothing was declared and nothing started');
    expect(up.workerPids()).toEqual([]);
  }, 60_000);
});
