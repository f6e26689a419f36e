import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/up/worker-process.ts';
import { portIsOpen } from '../support/net.ts';

/**
 * The private-node path of `npm run demo`: nothing answers at AMQP_URL and
 * the fallback is allowed, so findBroker starts a RabbitMQ node of its own;
 * the demo runs on it, passes its checks, and the node is gone afterwards.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('warren demo without a broker at AMQP_URL', () => {
  it('starts a private RabbitMQ node, runs the demo on it, and stops the node', async () => {
    const closed = await freePort();
    const env = {
      ...process.env,
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${closed}`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${closed}`,
      WARREN_BROKER_FALLBACK: '1',
    };
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['bin/warren.js', 'demo', '--topology', 'topology/orders.yaml', '--orders', '150'],
        { cwd: ROOT, env, timeout: 170_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const broker = /broker: amqp:\/\/[^@\s]*@127\.0\.0\.1:(\d+)\S* \(private-node\)/.exec(run.stderr);
    expect(broker, run.stderr).not.toBeNull();
    const port = Number(broker?.[1]);
    expect(port).not.toBe(closed);
    expect(run.stdout).toMatch(/OK: every accepted job was processed/);
    expect(run.stdout).toMatch(/^warehouse\s+150\s+150\s+\d+\s+0\s+0$/m);
    const fraud = /^fraud-audit\s+(\d+)\s+(\d+)\s+\d+\s+(\d+)\s+0$/m.exec(run.stdout);
    expect(fraud, run.stdout).not.toBeNull();
    const [routed, processed, inDlq] = (fraud ?? []).slice(1).map(Number);
    expect(inDlq).toBe(5);
    expect(processed).toBe((routed ?? 0) - 5);
    // The node we started is gone: nothing listens on its AMQP port any more.
    expect(await portIsOpen(port)).toBe(false);
  }, 180_000);
});
