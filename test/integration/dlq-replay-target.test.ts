import type { ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DlqBroker } from '../../src/dlq/broker.ts';
import { parseSelection } from '../../src/dlq/filter.ts';
import { ReplayPublisher } from '../../src/dlq/replay-publisher.ts';
import { replayRouteFor } from '../../src/dlq/replay-target.ts';
import { replayDeadLetters } from '../../src/dlq/replay.ts';
import { HEADERS, jobHeaders } from '../../src/message/headers.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createOrdersScenario, depth, drain, fillQueue, peekIds, publishToDlx, runWarren, type DeadLetterSpec, type DlqScenario } from './dlq-fixtures.ts';

// Issue 10 item 1 and 3, issue 11 item 5, on the reference topology: five
// consumers share `orders`, payments consumes through 4 shards. A replay
// reaches the consumer whose DLQ it is and no other; one unreplayable
// message is a counted failure that stays, never the end of the pass.
describe('dlq replay targets on the reference topology', () => {
  let s: DlqScenario;
  let workQueues: string[];

  beforeAll(async () => {
    s = await createOrdersScenario('dlq-target');
    workQueues = s.plan.consumers.flatMap((consumer) => consumer.queues);
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  const replay = async (dlq: string, ...args: string[]) => {
    const result = await runWarren(['dlq', 'replay', dlq, '--json', '--topology', s.topologyFile, ...args], s.vhost.url);
    expect(result.stderr).not.toMatch(/Error:|at .*\.ts/);
    return { code: result.code, summary: JSON.parse(result.stdout || '{}') as Record<string, unknown>, stderr: result.stderr };
  };

  it("a replay from inventory.dlq puts exactly one copy of each job in inventory's queue; every other queue is unchanged", async () => {
    // Real traffic first, so "unchanged" compares non-empty queues.
    for (let i = 0; i < 3; i++) publishJob(s, `live-${i}`, `o-live-${i}`);
    await s.channel.waitForConfirms();
    const before = await depths(s.connection, allQueues(s.plan));
    expect(before.inventory).toBe(3);
    expect(before.warehouse).toBe(3);

    // Some dead letters carry forged origin headers: they must change nothing.
    const jobs: DeadLetterSpec[] = Array.from({ length: 10 }, (_, i) => ({
      id: `inv-${i}`,
      consumer: 'inventory',
      orderingKey: `o-${i}`,
      ...(i % 2 === 1 && { origin: { exchange: 'orders.all', routingKey: 'order.created' } }),
      ...(i === 4 && { origin: { exchange: 'amq.topic', routingKey: 'payments' } }),
    }));
    await publishToDlx(s.channel, jobs);
    const { code, summary } = await replay('inventory.dlq');
    expect(code).toBe(0);
    expect(summary).toMatchObject({ replayed: 10, failed: 0, target: { kind: 'consumer', exchange: '', routingKey: 'inventory' } });

    const after = await depths(s.connection, allQueues(s.plan));
    for (const queue of allQueues(s.plan)) {
      const expected = queue === 'inventory' ? before[queue]! + 10 : queue === 'inventory.dlq' ? 0 : before[queue];
      expect(after[queue], queue).toBe(expected);
    }
    const inventory = await drain(s.connection, 'inventory');
    const replayedIds = inventory.map((m) => m.id).filter((id) => id.startsWith('inv-'));
    expect(replayedIds.sort()).toEqual(jobs.map((j) => j.id).sort());
    // Origin headers stay on the message as information, forged or not.
    expect(inventory.find((m) => m.id === 'inv-4')?.headers[HEADERS.originExchange]).toBe('amq.topic');
    await purgeAll(s.connection, workQueues);
  });

  it('a replay from payments.dlq lands each job on the shard its ordering key hashes to, as a fresh publish of that key does', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `order-${i * 7919}`);
    await publishToDlx(s.channel, keys.map((key, i) => ({ id: `pay-${i}`, consumer: 'payments', orderingKey: key, ...(i % 3 === 0 && { origin: { exchange: 'orders', routingKey: 'order.cancelled' } }) })));
    const before = await depths(s.connection, allQueues(s.plan));
    const { code, summary } = await replay('payments.dlq');
    expect(code).toBe(0);
    expect(summary).toMatchObject({ replayed: 40, failed: 0, target: { kind: 'consumer', exchange: 'payments.shard', routingKey: '' } });
    const after = await depths(s.connection, allQueues(s.plan));
    for (const queue of allQueues(s.plan).filter((q) => !q.startsWith('payments.shard.') && q !== 'payments.dlq')) {
      expect(after[queue], queue).toBe(before[queue]);
    }
    const replayedShard = await shardOfEachKey(s.connection, s.plan, (m) => String(m.headers[HEADERS.orderingKey]));
    expect(replayedShard.size).toBe(40);
    // Where fresh publishes of the same keys land, through the source exchange.
    keys.forEach((key, i) => publishJob(s, `fresh-${i}`, key));
    await s.channel.waitForConfirms();
    const freshShard = await shardOfEachKey(s.connection, s.plan, (m) => String(m.headers[HEADERS.orderingKey]));
    expect(Object.fromEntries(freshShard)).toEqual(Object.fromEntries(replayedShard));
    // More than one shard is used, or the comparison proves little.
    expect(new Set(replayedShard.values()).size).toBeGreaterThan(1);
    await purgeAll(s.connection, workQueues);
  });

  it("one message of a consumer gone from the plan plus 100 good ones: 100 replayed, 1 failed with its reason and still in the DLQ", async () => {
    const good = Array.from({ length: 100 }, (_, i): DeadLetterSpec => ({ id: `ok-${i}`, consumer: 'recommendation' }));
    await publishToDlx(s.channel, good.slice(0, 50));
    // Dead-lettered by a consumer the topology no longer has (renamed or removed), or forged.
    await publishToDlx(s.channel, [{ id: 'gone-1', consumer: 'recommendation-v1', via: 'recommendation' }]);
    await publishToDlx(s.channel, good.slice(50));
    expect(await depth(s.connection, 'recommendation.dlq')).toBe(101);

    const { code, summary } = await replay('recommendation.dlq');
    expect(code).toBe(2);
    expect(summary).toMatchObject({ replayed: 100, failed: 1, failures: [{ id: 'gone-1', reason: expect.stringMatching(/consumer "recommendation-v1" \(which is not in the topology\)/) }] });
    expect(await peekIds(s.connection, 'recommendation.dlq')).toEqual(['gone-1']);
    expect((await drain(s.connection, 'recommendation')).map((m) => m.id).sort()).toEqual(good.map((g) => g.id).sort());
    await drain(s.connection, 'recommendation.dlq');
  });

  it('a sharded DLQ message without an ordering key fails alone; the others reach their shards', async () => {
    const specs: DeadLetterSpec[] = Array.from({ length: 20 }, (_, i) => ({ id: `k-${i}`, consumer: 'payments', orderingKey: `key-${i}` }));
    specs.splice(7, 0, { id: 'no-key', consumer: 'payments' });
    await publishToDlx(s.channel, specs);
    const { summary } = await replay('payments.dlq');
    expect(summary).toMatchObject({ replayed: 20, failed: 1, failures: [{ id: 'no-key', reason: expect.stringMatching(/no x-warren-ordering-key header/) }] });
    expect(await peekIds(s.connection, 'payments.dlq')).toEqual(['no-key']);
    await drain(s.connection, 'payments.dlq');
    await purgeAll(s.connection, workQueues);
  });

  it('a deleted target (work queue or shard exchange) fails each message with its reason, keeps them all, and works again once declared', async () => {
    await publishToDlx(s.channel, Array.from({ length: 5 }, (_, i) => ({ id: `w-${i}`, consumer: 'warehouse' })));
    await publishToDlx(s.channel, Array.from({ length: 5 }, (_, i) => ({ id: `p-${i}`, consumer: 'payments', orderingKey: `pk-${i}` })));
    const admin = await s.connection.createChannel();
    await admin.deleteQueue('warehouse');
    await admin.deleteExchange('payments.shard');
    await admin.close();

    const queueGone = await replay('warehouse.dlq');
    expect(queueGone.summary).toMatchObject({ replayed: 0, failed: 5, failedByReason: [{ reason: 'the target queue "warehouse" does not exist (is the topology applied?)', count: 5 }] });
    const exchangeGone = await replay('payments.dlq');
    expect(exchangeGone.summary).toMatchObject({ replayed: 0, failed: 5, failedByReason: [{ reason: 'the target exchange "payments.shard" does not exist (is the topology applied?)', count: 5 }] });
    expect(await peekIds(s.connection, 'warehouse.dlq')).toEqual(['w-0', 'w-1', 'w-2', 'w-3', 'w-4']);
    expect(await peekIds(s.connection, 'payments.dlq')).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4']);

    await declarePlanAt(s.vhost.url, s.plan);
    expect((await replay('warehouse.dlq')).summary).toMatchObject({ replayed: 5, failed: 0 });
    expect((await replay('payments.dlq')).summary).toMatchObject({ replayed: 5, failed: 0 });
    await purgeAll(s.connection, workQueues);
  });

  it('the shard exchange deleted mid-pass (404 closes the publishing channel): the pass goes on with a fresh channel and loses nothing', async () => {
    const count = 200;
    await fillQueue(s.channel, 'payments.dlq', count, (i) => ({ id: `mid-${i}`, consumer: 'payments', orderingKey: `mk-${i}` }));
    const urls = [s.vhost.url];
    const broker = await DlqBroker.open(urls);
    const route = replayRouteFor(s.plan, 'payments.dlq');
    const pass = replayDeadLetters(broker, () => ReplayPublisher.open(urls), 'payments.dlq', { route, selection: parseSelection({}), ratePerSecond: 50 });
    // Delete once the pass is under way, declare again a little later.
    await waitFor(async () => (await shardTotal(s.connection, s.plan)) >= 20, 30_000);
    const admin = await s.connection.createChannel();
    await admin.deleteExchange('payments.shard');
    await admin.close();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await declarePlanAt(s.vhost.url, s.plan);
    const summary = await pass;
    await broker.close();

    expect(summary.error).toBeUndefined();
    expect(summary.replayed + summary.failed).toBe(count);
    expect(summary.failed).toBeGreaterThan(0);
    expect(summary.failedByReason.map((entry) => entry.reason).join('\n')).toMatch(/payments.shard/);
    // Replayed again after the exchange came back: the pass went on.
    expect(summary.replayed).toBeGreaterThan(20);
    const dlq = await drain(s.connection, 'payments.dlq');
    const inDlq = dlq.map((m) => m.id);
    // A job replayed while the exchange was back but not bound to its shards
    // yet matched no shard: its alternate exchange put it in the DLQ again,
    // counted as replayed (confirmed), without failure context (replay strips it).
    // Every other DLQ message is one the pass counted as failed.
    const bounced = dlq.filter((m) => m.headers[HEADERS.consumer] === undefined);
    expect(bounced.every((m) => m.headers[HEADERS.replays] === 1)).toBe(true);
    expect(dlq.length - bounced.length).toBe(summary.failed);
    const inShards = new Set((await drainShards(s.connection, s.plan)).map((m) => m.id));
    // Nothing lost: every job is in a shard or still in the DLQ.
    const missing = Array.from({ length: count }, (_, i) => `mid-${i}`).filter((id) => !inShards.has(id) && !inDlq.includes(id));
    expect(missing).toEqual([]);
    expect(inShards.size + bounced.length).toBeGreaterThanOrEqual(summary.replayed);
  });

  it('refuses a replay aimed at a shard queue or at a queue outside the topology, touching nothing', async () => {
    await publishToDlx(s.channel, [{ id: 'r-1', consumer: 'payments', orderingKey: 'rk' }]);
    const shard = await replay('payments.dlq', '--to', 'payments.shard.1');
    expect(shard.code).toBe(1);
    expect(shard.stderr).toMatch(/"payments.shard.1" is a shard queue of "payments"/);
    const outside = await replay('payments.dlq', '--to', 'somewhere-else');
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/not a queue of the topology/);
    expect(await peekIds(s.connection, 'payments.dlq')).toEqual(['r-1']);
    expect(await shardTotal(s.connection, s.plan)).toBe(0);
    await drain(s.connection, 'payments.dlq');
  });
});

/** Publishes a job as the producer does: to `orders`, with its ordering key. */
function publishJob(s: DlqScenario, id: string, orderingKey: string): void {
  s.channel.publish('orders', 'order.created', Buffer.from(JSON.stringify({ id, orderId: orderingKey })), {
    persistent: true,
    contentType: 'application/json',
    messageId: id,
    type: 'order.created',
    // As the job client writes it: the plan's shard counts (payments: 4) pick the shard.
    headers: jobHeaders({ exchange: 'orders', routingKey: 'order.created', orderingKey, shardCounts: s.plan.jobs.find((job) => job.type === 'order.created')?.shardCounts, now: new Date() }),
  });
}

function allQueues(plan: TopologyPlan): string[] {
  return plan.queues.map((queue) => queue.name);
}

async function depths(connection: ChannelModel, queues: string[]): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const queue of queues) result[queue] = await depth(connection, queue);
  return result;
}

function shardQueues(plan: TopologyPlan): string[] {
  return plan.consumers.find((consumer) => consumer.name === 'payments')?.queues ?? [];
}

async function shardTotal(connection: ChannelModel, plan: TopologyPlan): Promise<number> {
  let total = 0;
  for (const queue of shardQueues(plan)) total += await depth(connection, queue);
  return total;
}

async function drainShards(connection: ChannelModel, plan: TopologyPlan) {
  const all = [];
  for (const queue of shardQueues(plan)) all.push(...(await drain(connection, queue)).map((m) => ({ ...m, queue })));
  return all;
}

/** Drains the shards: which shard each key's message was in. */
async function shardOfEachKey(connection: ChannelModel, plan: TopologyPlan, keyOf: (m: { headers: Record<string, unknown> }) => string): Promise<Map<string, string>> {
  const byKey = new Map<string, string>();
  for (const message of await drainShards(connection, plan)) byKey.set(keyOf(message), message.queue);
  return byKey;
}

async function purgeAll(connection: ChannelModel, queues: string[]): Promise<void> {
  const channel = await connection.createChannel();
  for (const queue of queues) await channel.purgeQueue(queue);
  await channel.close();
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
