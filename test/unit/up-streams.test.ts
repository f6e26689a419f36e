import { describe, expect, it } from 'vitest';
import { parseStreamLag } from '../../src/up/metrics-text.ts';
import { renderJsonLine, renderStreamTable } from '../../src/up/view.ts';

const PRODUCER_METRICS = `# HELP warren_stream_lag_poll_up 1 when the last stream lag poll succeeded
# TYPE warren_stream_lag_poll_up gauge
warren_stream_lag_poll_up 1
warren_stream_end_offset{stream="ticks",partition="0"} 99
warren_stream_group_lag{stream="ticks",group="billing",partition="1"} 40
warren_stream_group_lag{stream="ticks",group="billing",partition="0"} 2
warren_stream_group_lag{stream="ticks",group="audit",partition="0"} 0
warren_stream_group_committed_offset{stream="ticks",group="billing",partition="0"} 97
`;

describe('stream lag in warren up', () => {
  it('reads each group lag per partition, its sum and its worst partition from the producer metrics', () => {
    expect(parseStreamLag(PRODUCER_METRICS)).toEqual({
      ok: true,
      groups: [
        { stream: 'ticks', group: 'audit', lag: 0, worst: { partition: 0, lag: 0 }, partitions: [{ partition: 0, lag: 0 }] },
        {
          stream: 'ticks',
          group: 'billing',
          lag: 42,
          worst: { partition: 1, lag: 40 },
          partitions: [
            { partition: 0, lag: 2 },
            { partition: 1, lag: 40 },
          ],
        },
      ],
    });
  });

  it('says the lag is unknown when the producer poll failed or it exports none', () => {
    expect(parseStreamLag('warren_stream_lag_poll_up 0\n')).toMatchObject({ ok: false, reason: expect.stringContaining('failed') });
    expect(parseStreamLag('warren_broker_connected 1\n').ok).toBe(false);
  });

  it('renders one aligned line per group, and a line of its own when unknown', () => {
    const reading = parseStreamLag(PRODUCER_METRICS);
    const [header, audit, billing] = renderStreamTable(reading);
    expect(header).toMatch(/^STREAM\s+GROUP\s+LAG\s+WORST\s+PER PARTITION$/);
    expect(audit).toMatch(/^ticks\s+audit\s+0\s+p0: 0\s+0:0$/);
    expect(billing).toMatch(/^ticks\s+billing\s+42\s+p1: 40\s+0:2 1:40$/);
    expect(renderStreamTable({ ok: false, reason: 'no producer' })).toEqual(['streams: lag unknown — no producer']);
    expect(renderStreamTable({ ok: true, groups: [] })).toEqual(['streams: no group lag (no group has committed yet, or the producer has no DATABASE_URL)']);
  });

  it('puts the reading in the JSON line only when the topology has streams', () => {
    const reading = parseStreamLag(PRODUCER_METRICS);
    expect(JSON.parse(renderJsonLine(0, [], { insecure: false }, reading)).streams).toEqual(reading);
    expect(JSON.parse(renderJsonLine(0, [], { insecure: false }))).not.toHaveProperty('streams');
  });
});
