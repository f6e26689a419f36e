import { connect, type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyTopology } from '../../src/topology/apply.ts';
import { parseTopology } from '../../src/topology/load.ts';
import { HEADERS, shardHeaders } from '../../src/message/headers.ts';
import { stableHash } from '../../src/message/key-hash.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

/** Messages really flow through what apply declared from orders.yaml. */

const FANOUT_QUEUES = ['inventory', 'loyalty', 'recommendation', 'warehouse', 'fraud-audit'];
const SHARDS = ['payments.shard.0', 'payments.shard.1', 'payments.shard.2', 'payments.shard.3'];

describe('orders.yaml on a live broker', () => {
  let vhost: TestVhost;
  let plan: TopologyPlan;
  let connection: ChannelModel;
  let channel: ConfirmChannel;

  beforeAll(async () => {
    vhost = await createTestVhost('topology-flow');
    const parsed = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
    if (!parsed.ok) throw new Error('orders.yaml must be valid');
    plan = parsed.value.plan;
    await applyTopology(plan, { amqpUrls: [vhost.url], managementUrl: vhost.managementUrl });
    connection = await connect(vhost.url);
    channel = await connection.createConfirmChannel();
  });
  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await vhost?.cleanup();
  });
  beforeEach(async () => {
    for (const queue of plan.queues) await channel.purgeQueue(queue.name);
  });

  async function publish(exchange: string, routingKey: string, body: unknown, headers: Record<string, string> = {}) {
    channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), { persistent: true, headers });
    await channel.waitForConfirms();
  }

  async function depth(queue: string): Promise<number> {
    return (await channel.checkQueue(queue)).messageCount;
  }

  it('an order.created event reaches every bound consumer queue once', async () => {
    await publish('orders', 'order.created', { orderId: 'o-1' }, { [HEADERS.orderingKey]: 'o-1', ...shardHeaders('o-1', [4]) });
    for (const queue of FANOUT_QUEUES) expect(await depth(queue), queue).toBe(1);
    const perShard = await Promise.all(SHARDS.map(depth));
    expect(perShard).toEqual(SHARDS.map((_, i) => (i === stableHash('o-1') % 4 ? 1 : 0)));
    // Nothing leaks into retry tiers or DLQs.
    expect(await depth('inventory.retry.1s')).toBe(0);
    expect(await depth('inventory.dlq')).toBe(0);
    expect(await depth('payments.dlq')).toBe(0);
  });

  it('an order without x-warren-shard-4 matches no shard and lands in the DLQ of the sharded consumer, not nowhere', async () => {
    await publish('orders', 'order.created', { orderId: 'o-old' }, { [HEADERS.orderingKey]: 'o-old' });
    for (const queue of FANOUT_QUEUES) expect(await depth(queue), queue).toBe(1);
    expect(await Promise.all(SHARDS.map(depth))).toEqual([0, 0, 0, 0]);
    expect(await depth('payments.dlq')).toBe(1);
  });

  it('a message rejected from a work queue lands in its DLQ with x-death', async () => {
    await publish('orders', 'order.created', { orderId: 'o-2' });
    const message = await channel.get('inventory', { noAck: false });
    if (!message) throw new Error('no message in inventory');
    channel.nack(message, false, false);
    const dead = await waitForMessage('inventory.dlq');
    const death = (dead.properties.headers?.['x-death'] as { queue: string; reason: string }[] | undefined)?.[0];
    expect(death).toMatchObject({ queue: 'inventory', reason: 'rejected' });
    expect(JSON.parse(dead.content.toString())).toEqual({ orderId: 'o-2' });
  });

  it('a message put into a retry tier comes back to its work queue after the delay', async () => {
    const tier = plan.consumers.find((c) => c.name === 'inventory')?.retry.tiers[0];
    if (!tier) throw new Error('inventory has no retry tier');
    const arrived = new Promise<number>((resolve) => {
      void channel.consume('inventory', (message) => {
        if (message) {
          channel.ack(message);
          resolve(Date.now());
        }
      });
    });
    const sent = Date.now();
    await publish('', tier.queue, { orderId: 'o-3' });
    const elapsed = (await arrived) - sent;
    expect(elapsed).toBeGreaterThanOrEqual(tier.delayMs);
    expect(elapsed).toBeLessThan(tier.delayMs + 1_500);
  });

  it('4 shards: 1,000 keys spread over every shard, each always in the one its x-warren-shard-4 names', async () => {
    const keys = Array.from({ length: 1_000 }, (_, i) => `order-${i}`);
    for (const round of [1, 2]) {
      for (const key of keys) {
        channel.publish('orders', 'order.created', Buffer.from(JSON.stringify({ key, round })), {
          // Every shard count of the plan, as the job client writes them (a header no exchange reads does nothing).
          headers: { [HEADERS.orderingKey]: key, ...shardHeaders(key, [2, 4, 7]) },
        });
      }
      await channel.waitForConfirms();
    }
    const shardsOfKey = new Map<string, Set<string>>();
    for (const [shard, bodies] of await consumeAll(SHARDS, 2 * keys.length)) {
      for (const body of bodies) {
        const { key } = JSON.parse(body.toString()) as { key: string };
        shardsOfKey.set(key, (shardsOfKey.get(key) ?? new Set()).add(shard));
      }
    }
    expect(shardsOfKey.size).toBe(keys.length);
    expect([...shardsOfKey.values()].every((shards) => shards.size === 1)).toBe(true);
    expect(keys.filter((key) => !shardsOfKey.get(key)?.has(`payments.shard.${stableHash(key) % 4}`))).toEqual([]);
    const perShard = SHARDS.map((shard) => [...shardsOfKey.values()].filter((s) => s.has(shard)).length);
    expect(perShard.every((n) => n > 0)).toBe(true);
  });

  async function waitForMessage(queue: string): Promise<GetMessage> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const message = await channel.get(queue, { noAck: true });
      if (message) return message;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`nothing arrived in ${queue}`);
  }

  /**
   * Consumes `total` messages from `queues`, by queue. Shard queues are quorum
   * queues with single-active-consumer, which refuse basic.get (405), so
   * they are read by a consumer.
   */
  async function consumeAll(queues: string[], total: number): Promise<Map<string, Buffer[]>> {
    const reader = await connection.createChannel();
    const byQueue = new Map<string, Buffer[]>(queues.map((queue) => [queue, []]));
    let seen = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumed ${seen} of ${total} messages`)), 15_000);
        for (const queue of queues) {
          void reader.consume(
            queue,
            (message) => {
              if (!message) return;
              byQueue.get(queue)?.push(message.content);
              if (++seen === total) {
                clearTimeout(timer);
                resolve();
              }
            },
            { noAck: true },
          );
        }
      });
    } finally {
      await reader.close();
    }
    return byQueue;
  }
});
