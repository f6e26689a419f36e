import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../../src/history/records.ts';
import { HistoryRowsRejectedError, HistoryWriter, type HistorySink } from '../../src/history/writer.ts';

const logger = pino({ level: 'silent' });

function event(n: number): HistoryRow {
  return { table: 'events', row: { jobId: `j${n}`, jobType: null, kind: 'replayed', consumer: null, queue: 'q.dlq', atMs: n } };
}

/** A sink that can be switched down (every write fails) and up, and that can be made to hang. */
class FakeSink implements HistorySink {
  written: HistoryRow[] = [];
  calls = 0;
  down = false;
  refuse: ((row: HistoryRow) => boolean) | undefined;
  async write(rows: readonly HistoryRow[]): Promise<void> {
    this.calls++;
    await Promise.resolve();
    if (this.down) throw new Error('connect ECONNREFUSED');
    const refused = this.refuse === undefined ? [] : rows.filter(this.refuse);
    this.written.push(...rows.filter((row) => !refused.includes(row)));
    if (refused.length > 0) throw new HistoryRowsRejectedError('refused', refused);
  }
}

async function counter(registry: Registry, name: string, table?: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string> }>;
  return values.filter((v) => table === undefined || v.labels.table === table).reduce((sum, v) => sum + v.value, 0);
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('HistoryWriter', () => {
  it('writes in batches of at most batchSize, by size and by interval, in order', async () => {
    const sink = new FakeSink();
    const registry = new Registry();
    const writer = new HistoryWriter(sink, { logger, registry, batchSize: 10, flushIntervalMs: 20 });
    for (let i = 0; i < 25; i++) writer.record(event(i));
    await until(() => sink.written.length === 25);
    expect(sink.written.map((r) => (r.row as { jobId: string }).jobId)).toEqual(Array.from({ length: 25 }, (_, i) => `j${i}`));
    expect(sink.calls).toBe(3);
    expect(await counter(registry, 'warren_history_rows_written_total', 'events')).toBe(25);
    expect(await counter(registry, 'warren_history_rows_dropped_total')).toBe(0);
    await writer.close();
  });

  it('keeps rows while the sink is down, bounded, counts what it drops, and resumes when it is back', async () => {
    const sink = new FakeSink();
    sink.down = true;
    const registry = new Registry();
    const writer = new HistoryWriter(sink, { logger, registry, batchSize: 5, maxBacklog: 20, flushIntervalMs: 5, retryInitialMs: 5, retryMaxMs: 10 });
    for (let i = 0; i < 50; i++) writer.record(event(i));
    await until(() => sink.calls >= 3);
    // record() never waited; the backlog stayed at its bound.
    expect(writer.pending).toBeLessThanOrEqual(20);
    sink.down = false;
    await until(() => writer.pending === 0 && sink.written.length > 0);
    await writer.flush();
    const dropped = await counter(registry, 'warren_history_rows_dropped_total', 'events');
    expect(sink.written.length + dropped).toBe(50);
    expect(dropped).toBe(30);
    // The oldest rows were kept: the first 20, in order.
    expect(sink.written.map((r) => (r.row as { jobId: string }).jobId)).toEqual(Array.from({ length: 20 }, (_, i) => `j${i}`));
    expect(await counter(registry, 'warren_history_write_failures_total')).toBeGreaterThan(0);
    await writer.close();
  });

  it('drops only the rows the sink refuses for their content, without retrying them', async () => {
    const sink = new FakeSink();
    sink.refuse = (row) => (row.row as { jobId: string }).jobId === 'j2';
    const registry = new Registry();
    const writer = new HistoryWriter(sink, { logger, registry, batchSize: 10, flushIntervalMs: 5 });
    for (let i = 0; i < 5; i++) writer.record(event(i));
    await writer.flush();
    expect(sink.written).toHaveLength(4);
    expect(await counter(registry, 'warren_history_rows_dropped_total')).toBe(1);
    expect(await counter(registry, 'warren_history_rows_written_total')).toBe(4);
    expect(writer.pending).toBe(0);
    await writer.close();
  });

  it('on close writes what is queued, and counts as dropped what the sink would not take in time and anything recorded after', async () => {
    const up = new FakeSink();
    const registryUp = new Registry();
    const writerUp = new HistoryWriter(up, { logger, registry: registryUp, flushIntervalMs: 10_000 });
    for (let i = 0; i < 7; i++) writerUp.record(event(i));
    await writerUp.close();
    await writerUp.close();
    expect(up.written).toHaveLength(7);
    writerUp.record(event(8));
    expect(await counter(registryUp, 'warren_history_rows_dropped_total')).toBe(1);

    const down = new FakeSink();
    down.down = true;
    const registryDown = new Registry();
    const writerDown = new HistoryWriter(down, { logger, registry: registryDown, flushIntervalMs: 10_000, retryInitialMs: 5 });
    for (let i = 0; i < 7; i++) writerDown.record(event(i));
    await writerDown.close(50);
    expect(await counter(registryDown, 'warren_history_rows_dropped_total')).toBe(7);
    expect(writerDown.pending).toBe(0);
  });

  it('refuses nonsense settings', () => {
    expect(() => new HistoryWriter(new FakeSink(), { logger, batchSize: 0 })).toThrow(RangeError);
  });
});

describe('HistoryWriter memory bound', () => {
  it('bounds the backlog in bytes too (recorded payloads), dropping and counting what does not fit', async () => {
    const sink = new FakeSink();
    sink.down = true;
    const registry = new Registry();
    const writer = new HistoryWriter(sink, { logger, registry, maxBacklogBytes: 100_000, flushIntervalMs: 10_000 });
    const big = (n: number): HistoryRow => ({
      table: 'jobs',
      row: { id: `j${n}`, jobType: 't', acceptedAtMs: 0, correlationId: null, payloadSize: 20_000, payload: 'x'.repeat(20_000), traceId: null, submittedBy: null },
    });
    for (let i = 0; i < 10; i++) writer.record(big(i));
    // 20,000 characters take about 40 KB each: two fit in 100 KB.
    expect(writer.pending).toBe(2);
    expect(await counter(registry, 'warren_history_rows_dropped_total', 'jobs')).toBe(8);
    sink.down = false;
    await writer.flush();
    expect(sink.written.map((r) => (r.row as { id: string }).id)).toEqual(['j0', 'j1']);
    // Written rows free their room again.
    writer.record(big(10));
    expect(writer.pending).toBe(1);
    await writer.close();
  });
});
