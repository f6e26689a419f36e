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

  // What this test first asserted — the same shard for every key before and after the
  // restart — does not hold on 3.10.8 with quorum shard queues: in two full runs of six,
  // 365 and 367 of 500 keys moved, with all four bindings back. The ring is rebuilt in the
  // order the bindings are recovered, which varies. What does hold is checked here (and the
  // README says per-key order across a broker restart is not kept).
  it('after stop_app / start_app, once the shards are bound again, every key still goes to one shard and the ring is stable', async () => {
    const parsed = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
    if (!parsed.ok) throw new Error('orders.yaml must be valid');
    await applyTopology(parsed.value.plan, { amqpUrls: [node.amqpUrl], managementUrl: node.managementUrl });

    const before = await shardOfEachKey();
    await node.ctl('stop_app');
    await node.ctl('start_app');
    await node.ctl('await_startup');
    await untilShardBindings();
    const after = await shardOfEachKey();
    const again = await shardOfEachKey();

    expect(before.size).toBe(KEYS.length);
    expect(new Set(before.values()).size).toBe(SHARDS.length);
    expect(after.size).toBe(KEYS.length);
    expect(new Set(after.values()).size).toBe(SHARDS.length);
    // After the restart the new ring maps each key to one shard, every time.
    expect(KEYS.filter((key) => after.get(key) !== again.get(key))).toEqual([]);
    const moved = KEYS.filter((key) => before.get(key) !== after.get(key)).length;
    console.log(`hash restart: ${moved} of ${KEYS.length} keys on another shard after the restart`);
  });
});
