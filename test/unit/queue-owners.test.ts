import { describe, expect, it } from 'vitest';
import type { ManagementClient } from '../../src/broker/management.ts';
import { queueLag } from '../../src/producer/queue-lag.ts';
import { groupDeadLetterOwner, queueOwners } from '../../src/producer/queue-owners.ts';
import { parseTopology } from '../../src/topology/load.ts';

const TOPOLOGY = `
version: 1
exchanges:
  shop: { type: topic }
jobs:
  later: { exchange: shop, routingKey: later.run, delays: true }
queues:
  audit-log: { type: quorum, bindings: [{ exchange: shop, routingKey: "#" }] }
consumers:
  billing:
    source: { exchange: shop, pattern: "order.*" }
    retry: { delays: [1s, 10s] }
  payments:
    source: { exchange: shop, pattern: "order.*" }
    shards: 2
`;

describe('queueOwners', () => {
  it("names each consumer's queues by kind, the delay levels as delay, and leaves plain queues unowned", () => {
    const parsed = parseTopology(TOPOLOGY, 'owners.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const { plan } = parsed.value;
    const owners = queueOwners(plan);
    const of = (name: string) => owners.get(name) ?? null;
    expect(of('billing')).toEqual({ consumer: 'billing', kind: 'work' });
    expect(of('billing.retry.10s')).toEqual({ consumer: 'billing', kind: 'retry' });
    expect(of('billing.dlq')).toEqual({ consumer: 'billing', kind: 'dead-letter' });
    expect(of('payments.shard.1')).toEqual({ consumer: 'payments', kind: 'work' });
    expect(of('audit-log')).toBeNull();
    const delay = plan.queues.filter((queue) => owners.get(queue.name)?.kind === 'delay').map((queue) => queue.name);
    expect(delay).toContain('warren.delay.level.00');
    expect(delay).toContain('warren.delay.land.later');
    expect(delay.every((name) => name.startsWith('warren.delay.'))).toBe(true);
    // Every queue of the plan is either owned, a delay queue, or a plain queue of the file.
    expect(plan.queues.filter((queue) => !owners.has(queue.name)).map((queue) => queue.name)).toEqual(['audit-log', 'audit-log.dlq']);
  });
});

describe('consumer-group DLQs (declared by the members, not the plan)', () => {
  const parsed = parseTopology(`${TOPOLOGY}
streams:
  order-log: { partitions: 2 }
events:
  order.placed: { stream: order-log, key: orderId }
`, 'owners-streams.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const { plan } = parsed.value;

  it('are dead-letter queues owned by <stream>.<group>', () => {
    expect(groupDeadLetterOwner(plan, 'order-log.billing.dlq')).toEqual({ consumer: 'order-log.billing', kind: 'dead-letter' });
    expect(groupDeadLetterOwner(plan, 'order-log.p0')).toBeUndefined();
    expect(groupDeadLetterOwner(plan, 'other-log.billing.dlq')).toBeUndefined();
  });

  it('are listed by queueLag once they exist, after the plan\'s queues; other unplanned queues are not', async () => {
    const live = [
      { name: 'billing', messages_ready: 1 },
      { name: 'order-log.audit.dlq', messages_ready: 3 },
      { name: 'scratch', messages_ready: 9 },
    ];
    const management = { get: async () => live } as unknown as ManagementClient;
    const rows = await queueLag(management, plan, '/');
    expect(rows.map((row) => row.name)).toEqual([...plan.queues.map((queue) => queue.name), 'order-log.audit.dlq']);
    expect(rows.at(-1)).toMatchObject({ exists: true, messagesReady: 3 });
  });
});
