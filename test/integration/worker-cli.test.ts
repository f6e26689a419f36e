import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/topology/load.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { testPublisher, waitFor } from '../fixtures/workers/_support.ts';

let vhost: TestVhost;

beforeAll(async () => {
  vhost = await createTestVhost('worker-cli');
  await declarePlanAt(vhost.url, (await loadTopology('topology/orders.yaml')).plan);
});

afterAll(async () => {
  await vhost?.cleanup();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const order = (id: string) => ({
  orderId: id,
  customerId: 'c-1',
  items: [{ sku: 'sku-1', quantity: 2, price: 10 }],
  total: 20,
  currency: 'EUR',
  createdAt: new Date().toISOString(),
});

describe('warren worker (CLI) with the example workers', () => {
  it('runs workers by consumer name, serves /metrics and /healthz, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/warren.js', 'worker', 'inventory', 'payments', 'fraud-audit', '--topology', 'topology/orders.yaml', '--metrics-port', String(port)], {
      env: { ...process.env, AMQP_URL: vhost.url, LOG_LEVEL: 'info', WARREN_LOG_PRETTY: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: string[] = [];
    child.stdout?.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('/healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 30_000, 200);
      const publisher = await testPublisher(vhost.url, 'orders', { shardCounts: [4] });
      for (let i = 0; i < 5; i++) await publisher.job('order.created', order(`o-${i}`), { orderingKey: `o-${i}` });
      await publisher.job('order.created', { ...order('bad'), total: 999 }, { orderingKey: 'bad' });
      await publisher.close();
      const metric = async (name: string) => (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split('\n').filter((l) => l.startsWith(name));
      await waitFor('every consumer to finish', async () => {
        const lines = await metric('warren_worker_succeeded_total');
        return ['inventory', 'payments'].every((c) => lines.includes(`warren_worker_succeeded_total{consumer="${c}"} 6`)) && lines.includes('warren_worker_succeeded_total{consumer="fraud-audit"} 5');
      }, 30_000, 200);
      expect(await metric('warren_worker_dead_lettered_total')).toContain('warren_worker_dead_lettered_total{consumer="fraud-audit",reason="non-retryable"} 1');
      expect((await metric('warren_worker_handler_duration_seconds_count')).length).toBeGreaterThan(0);
      const jobLog = logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.msg === 'job settled' && l.consumer === 'payments');
      expect(jobLog).toMatchObject({ consumer: 'payments', attempt: 1, outcome: 'succeeded' });
      expect(typeof jobLog?.jobId).toBe('string');
      expect(typeof jobLog?.durationMs).toBe('number');
      expect(logs.join('\n')).not.toContain('guest:guest');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
  });

  it('exits 1 for an unknown worker module', async () => {
    const child = spawn(process.execPath, ['bin/warren.js', 'worker', 'no-such-consumer', '--topology', 'topology/orders.yaml'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AMQP_URL: vhost.url } });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('workers/no-such-consumer.ts');
  });
});
