import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagementClient } from '../../src/broker/management.ts';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import { applyTopology, planTopology, PlanConflictError } from '../../src/topology/apply.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';

/**
 * The README's "Changing a queue's type" recipe, step by step, on a private
 * node with the shovel plugin (the shared broker does not enable it): an
 * older warren's classic consumer with jobs waiting and a dead letter is
 * moved to quorum queues without deleting a queue that holds messages and
 * without losing a job.
 */

const topology = (type: 'classic' | 'quorum') => `
exchanges:
  orders: { type: topic }
consumers:
  inventory:
    source: { exchange: orders, pattern: "order.*" }
    queueOptions: { type: ${type}${type === 'classic' ? ', leaderLocator: broker-default' : ''} }
    retry: { delays: [1s] }
`;

function planOf(type: 'classic' | 'quorum'): TopologyPlan {
  const parsed = parseTopology(topology(type), `${type}.yaml`);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value.plan;
}

describe("changing a queue's type (README recipe)", () => {
  let node: PrivateNode;
  let management: ManagementClient;
  beforeAll(async () => {
    node = await startPrivateNode({ plugins: ['rabbitmq_consistent_hash_exchange', 'rabbitmq_management', 'rabbitmq_shovel'] });
    management = new ManagementClient(node.managementUrl);
  });
  afterAll(async () => {
    await node?.stop();
  });

  const target = () => ({ amqpUrls: [node.amqpUrl], managementUrl: node.managementUrl });
  const exactDepth = async (queue: string) => {
    const connection = await connect(node.amqpUrl);
    try {
      return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
    } finally {
      await connection.close();
    }
  };
  async function publish(routingKey: string, ids: string[], queue?: string): Promise<void> {
    const connection = await connect(node.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      for (const id of ids) {
        if (queue) channel.sendToQueue(queue, Buffer.from(id), { persistent: true, messageId: id });
        else channel.publish('orders', routingKey, Buffer.from(id), { persistent: true, messageId: id });
      }
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
  }
  async function idsIn(queue: string, count: number): Promise<string[]> {
    const connection = await connect(node.amqpUrl);
    try {
      const channel = await connection.createChannel();
      const ids: string[] = [];
      while (ids.length < count) {
        const message = await channel.get(queue, { noAck: true });
        if (message) ids.push(String(message.properties.messageId));
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return ids;
    } finally {
      await connection.close();
    }
  }
  /** Step 5/7 of the recipe: a shovel that moves what `source` holds into `destination` and removes itself. */
  async function shovel(name: string, source: string, destination: string): Promise<void> {
    await node.ctl(
      'set_parameter',
      'shovel',
      name,
      JSON.stringify({
        'src-protocol': 'amqp091',
        'src-uri': 'amqp://',
        'src-queue': source,
        'dest-protocol': 'amqp091',
        'dest-uri': 'amqp://',
        'dest-queue': destination,
        'src-delete-after': 'queue-length',
        'ack-mode': 'on-confirm',
      }),
    );
  }
  async function until(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('moves a classic consumer to quorum queues, deleting only empty queues, losing no job', async () => {
    // An older warren's topology: everything classic; two jobs waiting, one dead letter.
    await applyTopology(planOf('classic'), target());
    await publish('order.created', ['waiting-1', 'waiting-2']);
    await publish('', ['dead-1'], 'inventory.dlq');
    const conflict = await applyTopology(planOf('quorum'), target()).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(PlanConflictError);

    // 1. Park new jobs in a quorum queue bound like the work queue, then unbind the work queue.
    await management.put('/queues/%2F/inventory.parking', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await management.post('/bindings/%2F/e/orders/q/inventory.parking', { routing_key: 'order.*' });
    await management.delete(`/bindings/%2F/e/orders/q/inventory/${encodeURIComponent('order.*')}`);
    await publish('order.created', ['parked-1', 'parked-2']);

    // 2. The worker drains the work queue and its retry tiers (here: we take the two jobs).
    expect(await idsIn('inventory', 2)).toEqual(['waiting-1', 'waiting-2']);

    // 3. Move the dead letters aside.
    await management.put('/queues/%2F/inventory.dlq.parking', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    // 4. --if-empty refuses a queue that still holds messages...
    await expect(node.ctl('delete_queue', '-p', '/', 'inventory.dlq', '--if-empty')).rejects.toThrow();
    expect(await exactDepth('inventory.dlq')).toBe(1);
    await shovel('inventory-dlq-aside', 'inventory.dlq', 'inventory.dlq.parking');
    await until('the dead letter moved aside', async () => (await exactDepth('inventory.dlq')) === 0 && (await exactDepth('inventory.dlq.parking')) === 1);
    // ...and deletes the emptied ones.
    for (const queue of ['inventory', 'inventory.retry.1s', 'inventory.dlq']) await node.ctl('delete_queue', '-p', '/', queue, '--if-empty');

    // 5. apply creates the quorum queues and binds the work queue again.
    const applied = await applyTopology(planOf('quorum'), target());
    expect(applied.changes.filter((c) => c.action === 'conflict')).toEqual([]);
    // 6. Unbind the parking queue: new jobs go to the work queue only.
    await management.delete(`/bindings/%2F/e/orders/q/inventory.parking/${encodeURIComponent('order.*')}`);
    await publish('order.created', ['new-1']);
    // 7. Move the parked jobs and the dead letter back; the shovels remove themselves.
    await shovel('inventory-unpark', 'inventory.parking', 'inventory');
    await shovel('inventory-dlq-back', 'inventory.dlq.parking', 'inventory.dlq');
    await until('the parked jobs moved back', async () => (await exactDepth('inventory.parking')) === 0 && (await exactDepth('inventory.dlq.parking')) === 0);
    // 8. RabbitMQ 3.10 does not support --if-empty on a quorum queue (rabbitmqctl prints an error and
    // still exits 0, deleting nothing): check that nothing is bound to it and it holds nothing, then delete.
    await node.ctl('delete_queue', '-p', '/', 'inventory.parking', '--if-empty');
    expect(await exactDepth('inventory.parking')).toBe(0);
    for (const queue of ['inventory.parking', 'inventory.dlq.parking']) {
      const bound = (await management.get<unknown[]>(`/queues/%2F/${queue}/bindings`)) ?? [];
      expect(bound.length, queue).toBe(1); // the default exchange's implicit binding only
      expect(await exactDepth(queue), queue).toBe(0);
      await node.ctl('delete_queue', '-p', '/', queue);
    }

    const types = (await management.get<{ name: string; type: string }[]>('/queues/%2F?columns=name,type')) ?? [];
    expect(types.map((q) => [q.name, q.type]).sort()).toEqual([
      ['inventory', 'quorum'],
      ['inventory.dlq', 'quorum'],
      ['inventory.retry.1s', 'quorum'],
    ]);
    expect((await idsIn('inventory', 3)).sort()).toEqual(['new-1', 'parked-1', 'parked-2']);
    expect(await idsIn('inventory.dlq', 1)).toEqual(['dead-1']);
    expect(await exactDepth('inventory')).toBe(0);
    const again = await planTopology(planOf('quorum'), target());
    expect(again.changes.filter((c) => c.action !== 'unchanged')).toEqual([]);
  });
});
