import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { consumerLag, LagPoller, registerLagMetrics } from '../../src/producer/lag-metrics.ts';
import { toLag, type QueueLag } from '../../src/producer/queue-lag.ts';
import { planOf } from '../fixtures/workers/_support.ts';

const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
consumers:
  billing:
    source: { exchange: shop, pattern: "order.*" }
    retry: { delays: [1s, 10s] }
    queueOptions: { type: classic }
  payments:
    source: { exchange: shop, pattern: "order.*" }
    shards: 2
`);

const NOW = 1_800_000_000_000;
const queue = (name: string, ready: number, unacked = 0, head: number | null = null): QueueLag =>
  toLag(name, { name, messages_ready: ready, messages_unacknowledged: unacked, consumers: 1, head_message_timestamp: head });

describe('consumer lag', () => {
  it('sums ready + unacked over the work queues (every shard), keeps retry tiers and the DLQ apart', () => {
    const rows = consumerLag(plan, [
      queue('billing', 7, 3, NOW / 1000 - 42),
      queue('billing.retry.1s', 2),
      queue('billing.dlq', 5),
      queue('payments.shard.0', 4, 1),
      queue('payments.shard.1', 0, 2),
    ], NOW);
    const billing = rows.find((r) => r.consumer === 'billing');
    expect(billing?.messages).toBe(10);
    expect(billing?.oldestAgeSeconds).toBe(42);
    expect(billing?.queues.map((q) => [q.queue, q.kind])).toEqual([
      ['billing', 'work'],
      ['billing.retry.1s', 'retry'],
      ['billing.dlq', 'dead-letter'],
    ]);
    const payments = rows.find((r) => r.consumer === 'payments');
    expect(payments?.messages).toBe(7);
    // A shard has ready messages and the broker gives no head timestamp (quorum): unknown, not 0.
    expect(payments?.oldestAgeSeconds).toBeUndefined();
  });

  it('says 0 seconds when nothing waits, and never a negative age (clock skew)', () => {
    const rows = consumerLag(plan, [queue('billing', 0, 4), queue('payments.shard.0', 0), queue('payments.shard.1', 0)], NOW);
    expect(rows.map((r) => r.oldestAgeSeconds)).toEqual([0, 0]);
    expect(consumerLag(plan, [queue('billing', 1, 0, NOW / 1000 + 5)], NOW)[0]?.oldestAgeSeconds).toBe(0);
  });

  it('leaves out queues the broker does not have', () => {
    const rows = consumerLag(plan, [toLag('billing', undefined)], NOW);
    expect(rows[0]?.queues).toEqual([]);
    expect(rows[0]?.messages).toBe(0);
  });
});

describe('the lag poll', () => {
  it('calls the management API at most once per interval, shared by concurrent scrapes', async () => {
    let now = NOW;
    let calls = 0;
    const poller = new LagPoller(plan, async () => {
      calls++;
      return [queue('billing', calls)];
    }, { minIntervalMs: 5_000, now: () => now });
    const [a, b] = await Promise.all([poller.snapshot(), poller.snapshot()]);
    expect(calls).toBe(1);
    expect(a).toBe(b);
    now += 4_999;
    await poller.snapshot();
    expect(calls).toBe(1);
    now += 1;
    const c = await poller.snapshot();
    expect(calls).toBe(2);
    expect(c.ok && c.consumers[0]?.messages).toBe(2);
  });

  it('fails a poll that outlasts its timeout', async () => {
    const failures: unknown[] = [];
    const poller = new LagPoller(plan, () => new Promise<QueueLag[]>(() => undefined), { timeoutMs: 20, onFailure: (e) => failures.push(e) });
    expect((await poller.snapshot()).ok).toBe(false);
    expect(failures).toHaveLength(1);
  });
});

describe('lag gauges', () => {
  it('exports every gauge from one poll per scrape, and drops the series when a poll fails', async () => {
    const registry = new Registry();
    let fail = false;
    let calls = 0;
    registerLagMetrics(registry, plan, async () => {
      calls++;
      if (fail) throw new Error('management API down');
      return [queue('billing', 7, 3, Date.now() / 1000 - 60), queue('billing.dlq', 5)];
    }, { minIntervalMs: 0 });
    const text = await registry.metrics();
    expect(calls).toBe(1);
    expect(text).toContain('warren_lag_poll_up 1');
    expect(text).toContain('warren_consumer_lag_messages{consumer="billing"} 10');
    expect(text).toMatch(/warren_consumer_oldest_message_age_seconds\{consumer="billing"\} 6\d/);
    expect(text).toContain('warren_queue_messages_ready{consumer="billing",queue="billing.dlq",kind="dead-letter"} 5');
    expect(text).toContain('warren_queue_messages_unacked{consumer="billing",queue="billing",kind="work"} 3');
    fail = true;
    const down = await registry.metrics();
    expect(calls).toBe(2);
    expect(down).toContain('warren_lag_poll_up 0');
    expect(down).toContain('warren_lag_poll_failures_total 1');
    expect(down).not.toContain('warren_consumer_lag_messages{');
  });
});
