import { connect, type Channel, type ChannelModel } from 'amqplib';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/job-client.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { stableHash } from '../../src/message/key-hash.ts';
import { applyTopology, planTopology, PlanConflictError } from '../../src/topology/apply.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { runWarren } from './dlq-fixtures.ts';
import { drainChannel } from '../support/queue-drain.ts';

/**
 * README "Moving a sharded consumer off x-consistent-hash", on a live broker:
 * a vhost declared the old way (payments.shard an x-consistent-hash exchange
 * on x-warren-ordering-key) is planned with this version, the exchange is
 * deleted and the topology applied, and keys then land where warren's hash
 * puts them. The shard queues and what they held survive the switch.
 */
const SHARDS = ['payments.shard.0', 'payments.shard.1', 'payments.shard.2', 'payments.shard.3'];

function ordersPlan(): TopologyPlan {
  const parsed = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
  if (!parsed.ok) throw new Error('orders.yaml must be valid');
  return parsed.value.plan;
}

/** orders.yaml as warren compiled it before it picked shards itself. */
function consistentHashPlan(): TopologyPlan {
  const plan = ordersPlan();
  return {
    ...plan,
    exchanges: plan.exchanges.map((e) => (e.name === 'payments.shard' ? { ...e, type: 'x-consistent-hash', arguments: { 'hash-header': HEADERS.orderingKey } } : e)),
    bindings: plan.bindings.map((b) => (b.source === 'payments.shard' ? { ...b, routingKey: '1', arguments: {} } : b)),
  };
}

const order = (orderId: string) => ({
  orderId,
  customerId: 'c-1',
  items: [{ sku: 'sku-1', quantity: 1, price: 10 }],
  total: 10,
  currency: 'EUR',
  createdAt: new Date().toISOString(),
});

describe('moving a sharded consumer off x-consistent-hash', () => {
  let vhost: TestVhost;
  let connection: ChannelModel;
  let channel: Channel;
  let client: JobClient;
  const plan = ordersPlan();

  beforeAll(async () => {
    vhost = await createTestVhost('shard-migration');
    await applyTopology(consistentHashPlan(), { amqpUrls: [vhost.url], managementUrl: vhost.managementUrl });
    connection = await connect(vhost.url);
    channel = await connection.createChannel();
    client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
  });
  afterAll(async () => {
    await client?.close();
    await connection?.close().catch(() => undefined);
    await vhost?.cleanup();
  });

  const depths = async () => Promise.all([...SHARDS, 'payments.dlq'].map(async (queue) => (await channel.checkQueue(queue)).messageCount));
  const target = () => ({ amqpUrls: [vhost.url], managementUrl: vhost.managementUrl });
  /** drainChannel leaves its consumer on (and a shard has one active consumer): a channel per drain, closed after. */
  const drain = async (queue: string) => {
    const own = await connection.createChannel();
    try {
      return await drainChannel(own, queue);
    } finally {
      await own.close();
    }
  };

  it('new producers on the old exchange: the ring ignores the shard header and still places every job', async () => {
    for (let i = 0; i < 40; i++) await client.enqueue('order.created', order(`before-${i}`));
    const [s0, s1, s2, s3, dlq] = await depths();
    expect((s0 ?? 0) + (s1 ?? 0) + (s2 ?? 0) + (s3 ?? 0)).toBe(40);
    expect(dlq).toBe(0);
  });

  it('plan: the exchange type is a CONFLICT with the migration as a warning, and apply refuses', async () => {
    const report = await planTopology(plan, target());
    expect(report.changes.filter((c) => c.action === 'conflict')).toEqual([
      expect.objectContaining({ kind: 'exchange', name: 'payments.shard', diff: expect.objectContaining({ type: { old: 'x-consistent-hash', new: 'headers' } }) }),
    ]);
    expect(report.warnings).toEqual([expect.stringContaining('payments.shard is an x-consistent-hash exchange on the broker')]);
    await expect(applyTopology(plan, target())).rejects.toBeInstanceOf(PlanConflictError);
  });

  it('delete the exchange and apply: the shard queues keep their jobs, and keys then land on stableHash(key) mod 4', async () => {
    await channel.deleteExchange('payments.shard');
    const [s0, s1, s2, s3] = await depths();
    expect((s0 ?? 0) + (s1 ?? 0) + (s2 ?? 0) + (s3 ?? 0)).toBe(40);
    await applyTopology(plan, target());
    const after = await planTopology(plan, target());
    expect(after.changes.filter((c) => c.action !== 'unchanged')).toEqual([]);
    expect(after.warnings).toEqual([]);
    expect((await Promise.all(SHARDS.map(drain))).flat()).toHaveLength(40);

    const keys = Array.from({ length: 200 }, (_, i) => `after-${i}`);
    for (const key of keys) await client.enqueue('order.created', order(key));
    const placed = new Map<string, string>();
    for (const queue of SHARDS) {
      for (const message of await drain(queue)) placed.set(String(message.properties.headers?.[HEADERS.orderingKey]), queue);
    }
    expect(placed.size).toBe(keys.length);
    expect(keys.filter((key) => placed.get(key) !== `payments.shard.${stableHash(key) % 4}`)).toEqual([]);
    expect((await channel.checkQueue('payments.dlq')).messageCount).toBe(0);
  });

  it("an older producer's job (no shard header) goes to payments.dlq, and dlq replay puts it on its key's shard", async () => {
    const publisher = await connection.createConfirmChannel();
    const keys = ['old-1', 'old-2', 'old-3', 'old-4', 'old-5', 'old-6'];
    for (const key of keys) {
      publisher.publish('orders', 'order.created', Buffer.from(JSON.stringify(order(key))), {
        persistent: true,
        messageId: `old-${key}`,
        headers: { [HEADERS.orderingKey]: key, [HEADERS.attempt]: 1 },
      });
    }
    await publisher.waitForConfirms();
    await publisher.close();
    expect(await depths()).toEqual([0, 0, 0, 0, keys.length]);

    const replay = await runWarren(['dlq', 'replay', 'payments.dlq', '--json', '--topology', 'topology/orders.yaml'], vhost.url);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ replayed: keys.length, failed: 0 });
    const placed = new Map<string, string>();
    for (const queue of SHARDS) {
      for (const message of await drain(queue)) placed.set(String(message.properties.headers?.[HEADERS.orderingKey]), queue);
    }
    expect(Object.fromEntries(placed)).toEqual(Object.fromEntries(keys.map((key) => [key, `payments.shard.${stableHash(key) % 4}`])));
  });
});
