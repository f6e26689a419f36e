import { connect } from 'amqplib';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import { applyTopology } from '../../src/topology/apply.ts';
import { parseTopology } from '../../src/topology/load.ts';
import { ORDERING_KEY_HEADER } from '../../src/topology/names.ts';

/**
 * Does the key → shard mapping of a consistent-hash exchange survive a broker
 * restart (stop_app / start_app) on our RabbitMQ? If it did not, a key's
 * messages queued before a restart could be overtaken by ones after it.
 * Runs on a private node: it stops the broker.
 */
const SHARDS = ['payments.shard.0', 'payments.shard.1', 'payments.shard.2', 'payments.shard.3'];
const KEYS = Array.from({ length: 500 }, (_, i) => `order-${i}`);

describe('consistent-hash mapping across a broker restart', () => {
  let node: PrivateNode;

  beforeAll(async () => {
    node = await startPrivateNode();
  });
  afterAll(async () => {
    await node?.stop();
  });

  async function shardOfEachKey(): Promise<Map<string, string>> {
    const connection = await connect(node.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      for (const key of KEYS) {
        channel.publish('orders', 'order.created', Buffer.from(key), { headers: { [ORDERING_KEY_HEADER]: key } });
      }
      await channel.waitForConfirms();
      // Shard queues are quorum queues with single-active-consumer: they refuse
      // basic.get (405), so read them with a consumer until every key is back.
      const mapping = new Map<string, string>();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${mapping.size} of ${KEYS.length} keys`)), 30_000);
        for (const shard of SHARDS) {
          void channel.consume(
            shard,
            (message) => {
              if (!message) return;
              mapping.set(message.content.toString(), shard);
              if (mapping.size === KEYS.length) {
                clearTimeout(timer);
                resolve();
              }
            },
            { noAck: true },
          );
        }
      });
      return mapping;
    } finally {
      await connection.close();
    }
  }

  /** Until the hash exchange has its four shard bindings again (rabbitmqctl reads the live routing table). */
  async function untilShardBindings(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const listed = await node.ctl('list_bindings', '-q', '--no-table-headers', 'source_name', 'destination_name');
      const bound = listed.split('\n').filter((line) => line.trim().split(/\s+/)[0] === 'payments.shard').length;
      if (bound === SHARDS.length) return;
      if (Date.now() > deadline) throw new Error(`payments.shard has ${bound} of ${SHARDS.length} bindings after the restart`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('maps every key to the same shard before and after stop_app / start_app, once the shards are bound again', async () => {
    const parsed = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
    if (!parsed.ok) throw new Error('orders.yaml must be valid');
    await applyTopology(parsed.value.plan, { amqpUrls: [node.amqpUrl], managementUrl: node.managementUrl });

    const before = await shardOfEachKey();
    await node.ctl('stop_app');
    await node.ctl('start_app');
    await node.ctl('await_startup');
    // The shard queues are quorum queues, recovered one by one after start_app, and the hash
    // exchange routes over the bindings recovered so far: a key published before all four are
    // back lands on another shard (seen here once: 365 of 500 keys moved, one shard bound). The
    // README says so; what is compared here is the mapping once the broker has recovered.
    await untilShardBindings();
    const after = await shardOfEachKey();

    expect(before.size).toBe(KEYS.length);
    expect(new Set(before.values()).size).toBe(SHARDS.length);
    expect(new Set(after.values()).size).toBe(SHARDS.length);
    const moved = KEYS.filter((key) => before.get(key) !== after.get(key));
    expect(moved).toEqual([]);
  });
});
