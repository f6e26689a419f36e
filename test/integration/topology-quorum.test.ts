import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVhost } from '../../src/broker/management.ts';
import { applyTopology, planTopology } from '../../src/topology/apply.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

/** Quorum by default, leader placement and queue-type changes, on the real broker. */

const run = promisify(execFile);

function planOf(text: string, file = 'inline.yaml'): TopologyPlan {
  const result = parseTopology(text, file);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value.plan;
}

interface LiveQueue {
  name: string;
  type: string;
  arguments: Record<string, unknown>;
  messages?: number;
}

async function liveQueues(vhost: TestVhost): Promise<LiveQueue[]> {
  return (await vhost.management.get<LiveQueue[]>(`/queues/${encodeVhost(vhost.vhost)}?columns=name,type,arguments`)) ?? [];
}

async function warren(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/warren.js', ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('quorum by default on RabbitMQ', () => {
  const vhosts: TestVhost[] = [];
  const fresh = async (prefix: string) => {
    const vhost = await createTestVhost(prefix);
    vhosts.push(vhost);
    return vhost;
  };
  const targetOf = (vhost: TestVhost) => ({ amqpUrls: [vhost.url], managementUrl: vhost.managementUrl });
  afterAll(async () => {
    await Promise.all(vhosts.map((v) => v.cleanup()));
  });

  describe('orders.yaml applied', () => {
    let vhost: TestVhost;
    let plan: TopologyPlan;
    beforeAll(async () => {
      vhost = await fresh('topology-quorum');
      plan = planOf(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
      await applyTopology(plan, targetOf(vhost));
    });

    it('every queue is a quorum queue on the broker, placed with x-queue-leader-locator: balanced', async () => {
      const queues = await liveQueues(vhost);
      expect(queues.map((q) => q.name).sort()).toEqual(plan.queues.map((q) => q.name).sort());
      for (const queue of queues) {
        expect(queue.type, queue.name).toBe('quorum');
        expect(queue.arguments['x-queue-leader-locator'], queue.name).toBe('balanced');
      }
    });

    it("a quorum consumer's retry tiers and DLQ are quorum, the tiers dead-lettering at-least-once", async () => {
      const byName = new Map((await liveQueues(vhost)).map((q) => [q.name, q]));
      for (const name of ['loyalty.retry.1s', 'loyalty.retry.10s', 'loyalty.retry.1m']) {
        expect(byName.get(name)).toMatchObject({
          type: 'quorum',
          arguments: { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish', 'x-dead-letter-routing-key': 'loyalty' },
        });
      }
      expect(byName.get('loyalty.dlq')?.type).toBe('quorum');
    });

    it('a job put into a quorum retry tier comes back to the quorum work queue once the tier TTL expires', async () => {
      const connection = await connect(vhost.url);
      try {
        const channel = await connection.createConfirmChannel();
        channel.sendToQueue('loyalty.retry.1s', Buffer.from('{"orderId":"q-1"}'), { persistent: true, messageId: 'q-1' });
        await channel.waitForConfirms();
        const deadline = Date.now() + 10_000;
        for (;;) {
          const message = await channel.get('loyalty', { noAck: true });
          if (message) {
            expect(message.properties.messageId).toBe('q-1');
            const death = (message.properties.headers?.['x-death'] as { queue: string; reason: string }[])[0];
            expect(death).toMatchObject({ queue: 'loyalty.retry.1s', reason: 'expired' });
            break;
          }
          if (Date.now() > deadline) throw new Error('the job never came back from loyalty.retry.1s');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await connection.close();
      }
    });
  });

  it('RabbitMQ 3.10 accepts every leaderLocator for both queue types, and a second apply changes nothing', async () => {
    const vhost = await fresh('topology-locators');
    const locators = ['balanced', 'client-local', 'broker-default'] as const;
    const queues = (['quorum', 'classic'] as const).flatMap((type) => locators.map((locator) => `  ${type}-${locator}: { type: ${type}, leaderLocator: ${locator} }`));
    const plan = planOf(`queues:\n${queues.join('\n')}\n`);
    await applyTopology(plan, targetOf(vhost));
    const byName = new Map((await liveQueues(vhost)).map((q) => [q.name, q]));
    expect(byName.get('quorum-balanced')?.arguments['x-queue-leader-locator']).toBe('balanced');
    expect(byName.get('quorum-client-local')?.arguments['x-queue-leader-locator']).toBe('client-local');
    expect(byName.get('classic-balanced')?.arguments['x-queue-master-locator']).toBe('min-masters');
    expect(byName.get('classic-client-local')?.arguments['x-queue-master-locator']).toBe('client-local');
    expect(byName.get('classic-broker-default')?.type).toBe('classic');
    const again = await planTopology(plan, targetOf(vhost));
    expect(again.changes.filter((c) => c.action !== 'unchanged')).toEqual([]);
  });

  it('a classic queue holding jobs that the file wants quorum: plan shows a CONFLICT, apply declares nothing and the jobs stay', async () => {
    const vhost = await fresh('topology-retype');
    // What an older warren declared: a classic inventory queue with two jobs waiting.
    const connection = await connect(vhost.url);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('inventory', { durable: true, arguments: { 'x-dead-letter-exchange': 'inventory.dlx' } });
      for (const id of ['a', 'b']) channel.sendToQueue('inventory', Buffer.from(id), { persistent: true });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    const env = { AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl };

    const plan = await warren(env, 'topology', 'plan', 'topology/orders.yaml');
    expect(plan.code).toBe(3);
    expect(plan.stdout).toMatch(/CONFLICT\s+queue\s+inventory\n\s+type: "classic" on the broker, "quorum" in the file/);
    expect(plan.stdout).toContain("warning: queue inventory is classic on the broker and quorum in the file: RabbitMQ cannot change a queue's type in place");

    const apply = await warren(env, 'topology', 'apply', 'topology/orders.yaml');
    expect(apply.code).toBe(3);
    expect(apply.stderr).toContain('nothing was declared');
    const queues = await liveQueues(vhost);
    expect(queues.map((q) => [q.name, q.type])).toEqual([['inventory', 'classic']]);
    const check = await connect(vhost.url);
    try {
      expect((await (await check.createChannel()).checkQueue('inventory')).messageCount).toBe(2);
    } finally {
      await check.close();
    }
  });
});
