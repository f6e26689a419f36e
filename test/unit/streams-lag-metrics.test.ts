import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { partitionStatuses, type StreamOverview } from '../../src/streams/group-admin.ts';
import { registerStreamLagMetrics, streamLagSamples } from '../../src/streams/stream-lag-metrics.ts';

const queues = ['orders.p0', 'orders.p1', 'orders.p2'];
const row = (partition: number, committed: number | null, owner: string | null = 'm1') => ({ partition, committed, owner, generation: 3, updatedAt: null });

function overview(groups: StreamOverview['groups']): StreamOverview[] {
  return [{ stream: 'orders', partitions: 3, ends: [99, null, 10], groups }];
}

describe('partition statuses', () => {
  it('gives each partition of the stream its row, end and lag; a missing row is a partition never committed', () => {
    const statuses = partitionStatuses({ queues }, [row(0, 89), row(2, -1)], [99, undefined, 10]);
    expect(statuses).toEqual([
      { partition: 0, owner: 'm1', generation: 3, committed: 89, end: 99, lag: 10 },
      { partition: 1, owner: null, generation: 0, committed: null, end: undefined, lag: null },
      // Reset to first (−1): every retained record is still to read.
      { partition: 2, owner: 'm1', generation: 3, committed: -1, end: 10, lag: 11 },
    ]);
  });

  it('counts an empty partition as no lag once the group committed', () => {
    expect(partitionStatuses({ queues: ['q'] }, [row(0, 5)], [undefined])[0]?.lag).toBe(0);
  });
});

describe('stream lag samples', () => {
  it('turns ends and group offsets into labelled samples, leaving out empty partitions and partitions never committed', () => {
    const partitions = partitionStatuses({ queues }, [row(0, 89), row(1, null), row(2, 10)], [99, undefined, 10]);
    const samples = streamLagSamples(overview([{ group: 'billing', members: 2, lag: null, partitions }]));
    expect(samples.end).toEqual([
      { labels: { stream: 'orders', partition: '0' }, value: 99 },
      { labels: { stream: 'orders', partition: '2' }, value: 10 },
    ]);
    expect(samples.committed).toEqual([
      { labels: { stream: 'orders', group: 'billing', partition: '0' }, value: 89 },
      { labels: { stream: 'orders', group: 'billing', partition: '2' }, value: 10 },
    ]);
    expect(samples.lag).toEqual([
      { labels: { stream: 'orders', group: 'billing', partition: '0' }, value: 10 },
      { labels: { stream: 'orders', group: 'billing', partition: '2' }, value: 0 },
    ]);
    expect(samples.members).toEqual([{ labels: { stream: 'orders', group: 'billing' }, value: 2 }]);
  });

  it('has only end offsets when the groups are not read (no DATABASE_URL)', () => {
    const samples = streamLagSamples(overview(null));
    expect(samples.end).toHaveLength(2);
    expect([samples.committed, samples.lag, samples.members]).toEqual([[], [], []]);
  });
});

describe('stream lag gauges', () => {
  it('exports one read per scrape, and drops the series with up 0 when a read fails', async () => {
    const registry = new Registry();
    let calls = 0;
    let fail = false;
    registerStreamLagMetrics(
      registry,
      async () => {
        calls++;
        if (fail) throw new Error('broker gone');
        const partitions = partitionStatuses({ queues }, [row(0, 89), row(1, 0), row(2, 4)], [99, undefined, 10]);
        return overview([{ group: 'billing', members: 1, lag: 16, partitions }]);
      },
      { minIntervalMs: 0 },
    );
    const text = await registry.metrics();
    expect(calls).toBe(1);
    expect(text).toContain('warren_stream_lag_poll_up 1');
    expect(text).toContain('warren_stream_end_offset{stream="orders",partition="0"} 99');
    expect(text).not.toContain('warren_stream_end_offset{stream="orders",partition="1"}');
    expect(text).toContain('warren_stream_group_committed_offset{stream="orders",group="billing",partition="0"} 89');
    expect(text).toContain('warren_stream_group_lag{stream="orders",group="billing",partition="0"} 10');
    expect(text).toContain('warren_stream_group_lag{stream="orders",group="billing",partition="2"} 6');
    expect(text).toContain('warren_stream_group_members{stream="orders",group="billing"} 1');
    fail = true;
    const down = await registry.metrics();
    expect(calls).toBe(2);
    expect(down).toContain('warren_stream_lag_poll_up 0');
    expect(down).toContain('warren_stream_lag_poll_failures_total 1');
    expect(down).not.toContain('warren_stream_group_lag{');
    expect(down).not.toContain('warren_stream_end_offset{');
  });

  it('bounds a scrape: a read slower than the timeout fails the poll', async () => {
    const registry = new Registry();
    registerStreamLagMetrics(registry, () => new Promise<StreamOverview[]>(() => undefined), { timeoutMs: 30 });
    const text = await registry.metrics();
    expect(text).toContain('warren_stream_lag_poll_up 0');
    expect(text).toContain('warren_stream_lag_poll_failures_total 1');
  });

  it('reads at most once per interval', async () => {
    const registry = new Registry();
    let now = 1_000_000;
    let calls = 0;
    registerStreamLagMetrics(
      registry,
      async () => {
        calls++;
        return overview(null);
      },
      { minIntervalMs: 10_000, now: () => now },
    );
    await registry.metrics();
    now += 9_999;
    await registry.metrics();
    expect(calls).toBe(1);
    now += 1;
    await registry.metrics();
    expect(calls).toBe(2);
  });
});
