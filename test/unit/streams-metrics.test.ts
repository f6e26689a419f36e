import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { streamWorkerMetrics } from '../../src/streams/stream-metrics.ts';

describe('stream group metrics', () => {
  it('counts commits, fences, poison records and retention loss per partition', async () => {
    const registry = new Registry();
    const feed = streamWorkerMetrics(registry, { stream: 'orders', group: 'billing' });
    feed({ kind: 'assigned', partition: 2, generation: 7, committed: 41 });
    feed({ kind: 'committed', partition: 2, generation: 7, offset: 90, records: 49 });
    feed({ kind: 'committed', partition: 2, generation: 7, offset: 120, records: 30 });
    feed({ kind: 'dead-lettered', partition: 2, offset: 121, queue: 'orders.billing.dlq', error: new Error('x') });
    feed({ kind: 'retention-loss', partition: 2, committed: 121, firstAvailable: 500 });
    feed({ kind: 'fenced', partition: 2, generation: 7 });
    const text = await registry.metrics();
    const at = 'stream="orders",group="billing",partition="2"';
    expect(text).toContain(`warren_stream_records_committed_total{${at}} 79`);
    expect(text).toContain(`warren_stream_committed_offset{${at}} 120`);
    expect(text).toContain(`warren_stream_partition_generation{${at}} 7`);
    expect(text).toContain(`warren_stream_partition_owned{${at}} 0`);
    expect(text).toContain(`warren_stream_fenced_total{${at}} 1`);
    expect(text).toContain(`warren_stream_dead_lettered_total{${at}} 1`);
    expect(text).toContain(`warren_stream_retention_loss_total{${at}} 1`);
  });
});
