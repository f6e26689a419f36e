import { describe, expect, it } from 'vitest';
import { parseWorkerMetrics } from '../../src/up/metrics-text.ts';
import type { Snapshot } from '../../src/up/snapshot.ts';
import { emptyCounters } from '../../src/up/metrics-text.ts';
import { renderJsonLine, renderTable, renderTitle, viewRows } from '../../src/up/view.ts';

const METRICS = `# HELP warren_worker_succeeded_total Jobs handled and acked
# TYPE warren_worker_succeeded_total counter
warren_worker_succeeded_total{consumer="inventory"} 120
warren_worker_succeeded_total{consumer="payments"} 7
warren_worker_retried_total{consumer="inventory"} 3
warren_worker_dead_lettered_total{consumer="inventory",reason="non-retryable"} 2
warren_worker_dead_lettered_total{consumer="inventory",reason="invalid-payload"} 1
warren_worker_in_flight{consumer="inventory"} 4
warren_worker_handler_duration_seconds_bucket{le="0.005",consumer="inventory",outcome="succeeded"} 100
process_cpu_seconds_total 1.5
`;

describe('parseWorkerMetrics', () => {
  it('reads the counters per consumer and sums the samples of other labels', () => {
    const counters = parseWorkerMetrics(METRICS);
    expect(counters.get('inventory')).toEqual({ ...emptyCounters(), succeeded: 120, retried: 3, deadLettered: 3, inFlight: 4 });
    expect(counters.get('payments')?.succeeded).toBe(7);
    expect([...counters.keys()].sort()).toEqual(['inventory', 'payments']);
  });
});

describe('the live view', () => {
  const snapshot = (at: number, succeeded: number): Snapshot => ({
    at,
    consumers: [{ consumer: 'warehouse', state: 'running', counters: { ...emptyCounters(), succeeded, retried: 1 }, lag: 40, retrying: 2, inDlq: 1 }],
  });

  it('computes the rate from the previous reading', () => {
    expect(viewRows(snapshot(1_000, 10), undefined)[0]?.rate).toBe(0);
    expect(viewRows(snapshot(3_000, 210), snapshot(1_000, 10))[0]).toMatchObject({ processed: 210, rate: 100, lag: 40, retrying: 2, inDlq: 1 });
  });

  it('renders an aligned table and a JSON line', () => {
    const rows = viewRows(snapshot(3_000, 210), snapshot(1_000, 10));
    const [header, row] = renderTable(rows);
    expect(header).toMatch(/^CONSUMER\s+STATE\s+PROCESSED\s+RETRIED\s+RETRYING\s+DEAD-LETTERED\s+IN DLQ\s+LAG\s+RATE\/s$/);
    expect(row).toMatch(/^warehouse\s+running\s+210\s+1\s+2\s+0\s+1\s+40\s+100\.0$/);
    expect(header?.length).toBe(row?.length);
    expect(JSON.parse(renderJsonLine(3_000, rows, { insecure: false }))).toEqual({ at: '1970-01-01T00:00:03.000Z', insecure: false, consumers: rows });
  });

  it('says on every reading when the producer runs without tokens (--insecure)', () => {
    const rows = viewRows(snapshot(3_000, 210), undefined);
    expect(JSON.parse(renderJsonLine(3_000, rows, { insecure: true })).insecure).toBe(true);
    const time = () => '6:01:06 AM';
    expect(renderTitle(3_000, { insecure: true }, time)).toBe('warren up — 6:01:06 AM — Ctrl-C stops everything — !! INSECURE: the producer has no API tokens, every route is open');
    expect(renderTitle(3_000, { insecure: false }, time)).toBe('warren up — 6:01:06 AM — Ctrl-C stops everything');
  });
});
