import { describe, expect, it } from 'vitest';
import { buildOrderMix, FLAKY_SKU_PREFIX } from '../../src/demo/orders.ts';
import { consumersReached, expectedDeliveries, topicMatches } from '../../src/demo/routing.ts';
import { checkDemo, type ConsumerOutcome, type DemoFacts } from '../../src/demo/verify.ts';
import { loadTopology } from '../../src/topology/load.ts';
import { emptyCounters } from '../../src/up/metrics-text.ts';

const NOW = new Date('2026-01-01T12:00:00Z');
const cents = (n: number) => Math.round(n * 100) / 100;

describe('buildOrderMix', () => {
  const orders = buildOrderMix({ count: 1000, poison: 5, runId: 'demo-x', seed: 42, now: NOW });

  it('is deterministic for a seed, with unique order ids carrying the run id', () => {
    expect(buildOrderMix({ count: 1000, poison: 5, runId: 'demo-x', seed: 42, now: NOW })).toEqual(orders);
    const ids = new Set(orders.map((o) => o.created.orderId));
    expect(ids.size).toBe(1000);
    expect([...ids].every((id) => id.startsWith('demo-x-'))).toBe(true);
  });

  it('has exactly the poison count, about 2 % flaky, and cancellations only of normal orders', () => {
    expect(orders.filter((o) => o.kind === 'poison')).toHaveLength(5);
    expect(orders.filter((o) => o.kind === 'flaky')).toHaveLength(20);
    const cancelled = orders.filter((o) => o.cancelled);
    expect(cancelled.length).toBeGreaterThan(50);
    expect(cancelled.length).toBeLessThan(150);
    expect(cancelled.every((o) => o.kind === 'normal' && o.cancelled?.orderId === o.created.orderId)).toBe(true);
  });

  it('totals add up except on poison orders; only flaky orders carry the flaky SKU', () => {
    for (const order of orders) {
      const lines = cents(order.created.items.reduce((sum, i) => sum + i.quantity * i.price, 0));
      if (order.kind === 'poison') expect(Math.abs(order.created.total - lines)).toBeGreaterThan(0.01);
      else expect(order.created.total).toBe(lines);
      expect(order.created.items.some((i) => i.sku.startsWith(FLAKY_SKU_PREFIX))).toBe(order.kind === 'flaky');
    }
  });
});

describe('routing over the reference topology', () => {
  it('matches AMQP topic patterns', () => {
    expect(topicMatches('order.*', 'order.created')).toBe(true);
    expect(topicMatches('order.*', 'order.created.eu')).toBe(false);
    expect(topicMatches('#', 'a.b.c')).toBe(true);
    expect(topicMatches('order.#', 'order')).toBe(true);
    expect(topicMatches('*.created', 'order.cancelled')).toBe(false);
  });

  it('finds every consumer of each job type, through the fanout and the shard exchange', async () => {
    const { plan } = await loadTopology('topology/orders.yaml');
    expect([...consumersReached(plan, 'orders', 'order.created')].sort()).toEqual(['fraud-audit', 'inventory', 'loyalty', 'payments', 'recommendation', 'warehouse']);
    expect([...consumersReached(plan, 'orders', 'order.cancelled')].sort()).toEqual(['fraud-audit', 'inventory', 'payments']);
    const expected = expectedDeliveries(plan, new Map([['order.created', 100], ['order.cancelled', 7]]));
    expect(Object.fromEntries(expected)).toEqual({ inventory: 107, loyalty: 100, recommendation: 100, warehouse: 100, 'fraud-audit': 107, payments: 107 });
  });
});

describe('checkDemo', () => {
  const outcome = (over: Partial<ConsumerOutcome> = {}): ConsumerOutcome => ({
    consumer: 'fraud-audit',
    ran: true,
    routed: 10,
    counters: { ...emptyCounters(), succeeded: 8 },
    left: 0,
    dlqIds: ['p1', 'p2'],
    expectedDlqIds: ['p1', 'p2'],
    ...over,
  });
  const facts = (consumers: ConsumerOutcome[], over: Partial<DemoFacts> = {}): DemoFacts => ({
    sent: 10,
    accepted: 10,
    refused: [],
    flaky: { consumer: 'inventory', count: 0 },
    consumers,
    drained: true,
    ...over,
  });

  it('passes when processed = routed − DLQ and the DLQ holds exactly the poison jobs', () => {
    expect(checkDemo(facts([outcome()]))).toEqual([]);
  });

  it('names each mismatch', () => {
    expect(checkDemo(facts([outcome({ counters: { ...emptyCounters(), succeeded: 7 } })]))[0]).toMatch(/processed 7, expected 8/);
    expect(checkDemo(facts([outcome({ dlqIds: ['p1', 'x'], expectedDlqIds: ['p1', 'p2'] })])).join('\n')).toMatch(/not poison[\s\S]*missing/);
    expect(checkDemo(facts([outcome({ left: 3 })]))[0]).toMatch(/3 message\(s\) left/);
    expect(checkDemo(facts([outcome()], { accepted: 9 }))[0]).toMatch(/1 of 10 jobs were not accepted/);
    expect(checkDemo(facts([outcome()], { drained: false }))[0]).toMatch(/did not drain/);
    const flaky = outcome({ consumer: 'inventory', dlqIds: [], expectedDlqIds: [], counters: { ...emptyCounters(), succeeded: 10, retried: 1 } });
    expect(checkDemo(facts([flaky], { flaky: { consumer: 'inventory', count: 2 } }))[0]).toMatch(/only 1 retries/);
  });

  it('does not check a consumer that did not run', () => {
    expect(checkDemo(facts([outcome({ ran: false, counters: emptyCounters() })]))).toEqual([]);
  });
});
