import { describe, expect, it } from 'vitest';
import { renderStreamSummary, type StreamSummary } from '../../src/demo/stream-summary.ts';
import {
  checkExactlyOnce,
  checkKeyOrder,
  checkReplay,
  checkUntouched,
  expectedReplay,
  partitionsCaughtUp,
  type LedgerRow,
  type RestartPoint,
  type SentEvent,
} from '../../src/demo/stream-verify.ts';

/** Two orders on partition 0 (created, cancelled) and one on partition 1, applied in offset order. */
function ledger(group = 'analytics'): LedgerRow[] {
  const row = (eventId: string, orderId: string, eventType: string, partition: number, offset: number, seq: number): LedgerRow => ({
    group,
    eventId,
    orderId,
    eventType,
    partition,
    offset,
    applications: 1,
    firstSeq: seq,
    lastSeq: seq,
  });
  return [
    row('o1.created', 'o1', 'order.created', 0, 10, 1),
    row('o2.created', 'o2', 'order.created', 1, 5, 2),
    row('o3.created', 'o3', 'order.created', 0, 11, 3),
    row('o1.cancelled', 'o1', 'order.cancelled', 0, 20, 4),
  ];
}

const sent: SentEvent[] = ledger().map((r) => ({ id: r.eventId, orderId: r.orderId, type: r.eventType }));

describe('stream demo checks', () => {
  it('exactly once: every sent event applied once, nothing else', () => {
    expect(checkExactlyOnce('analytics', sent, ledger())).toEqual({ count: { group: 'analytics', applied: 4, duplicates: 0, missing: 0 }, problems: [] });
    const twice = ledger().map((r) => (r.eventId === 'o2.created' ? { ...r, applications: 2 } : r));
    expect(checkExactlyOnce('analytics', sent, twice).problems).toEqual(['analytics: 1 events applied more than once, e.g. o2.created (2×)']);
    const missing = checkExactlyOnce('analytics', sent, ledger().slice(1));
    expect(missing.count.missing).toBe(1);
    expect(missing.problems[0]).toMatch(/1 of 4 events never applied, e.g. o1.created/);
    const stranger = [...ledger(), { ...ledger()[0], eventId: 'zz' } as LedgerRow];
    expect(checkExactlyOnce('analytics', sent, stranger).problems).toEqual(['analytics: 1 applied events were never sent, e.g. zz']);
  });

  it('per-key order: one order\'s events applied in offset order, created first, on one partition', () => {
    expect(checkKeyOrder('analytics', ledger())).toEqual([]);
    const swapped = ledger().map((r) => (r.eventId === 'o1.cancelled' ? { ...r, firstSeq: 0 } : r));
    expect(checkKeyOrder('analytics', swapped)).toEqual(['analytics: 1 order(s) whose events were applied out of order, e.g. o1']);
    const cancelledFirst = ledger().map((r) => (r.eventId === 'o1.cancelled' ? { ...r, offset: 1, firstSeq: 0 } : r));
    expect(checkKeyOrder('analytics', cancelledFirst)).toHaveLength(1);
    const split = ledger().map((r) => (r.eventId === 'o1.cancelled' ? { ...r, partition: 3 } : r));
    expect(checkKeyOrder('analytics', split)).toEqual(['analytics: 1 order(s) whose events are in different partitions, e.g. o1']);
  });

  it('the replay: expected rows are those at or after each partition\'s restart point', () => {
    const rows = ledger();
    expect([...expectedReplay(rows, new Map<number, RestartPoint>([[0, 11], [1, 'new records only']]))].sort()).toEqual(['o1.cancelled', 'o3.created']);
    expect(expectedReplay(rows, new Map<number, RestartPoint>([[0, 'first'], [1, 'first']])).size).toBe(4);
    expect(expectedReplay(rows, new Map()).size).toBe(0);
  });

  it('the replay: exactly the expected rows applied twice, in order again', () => {
    const expected = new Set(['o3.created', 'o1.cancelled']);
    const after = ledger().map((r) => (expected.has(r.eventId) ? { ...r, applications: 2, lastSeq: r.firstSeq + 100 } : r));
    expect(checkReplay('analytics', after, expected)).toEqual({ reapplied: 2, expected: 2, problems: [] });
    const short = ledger().map((r) => (r.eventId === 'o3.created' ? { ...r, applications: 2 } : r));
    expect(checkReplay('analytics', short, expected).problems).toEqual(['analytics: 1 record(s) after the reset point were not re-applied, e.g. o1.cancelled']);
    const tooMuch = after.map((r) => (r.eventId === 'o2.created' ? { ...r, applications: 2 } : r));
    expect(checkReplay('analytics', tooMuch, expected).problems[0]).toMatch(/1 record\(s\) applied a wrong number of times by the replay, e.g. o2.created \(2×, before the reset point: expected 1×\)/);
    // A replay that applied one order's events in the wrong order is caught too.
    const both = new Set(['o1.created', 'o1.cancelled']);
    const reordered = ledger().map((r) => (r.eventId === 'o1.created' ? { ...r, applications: 2, lastSeq: 300 } : r.eventId === 'o1.cancelled' ? { ...r, applications: 2, lastSeq: 200 } : r));
    expect(checkReplay('analytics', reordered, both).problems).toEqual(['analytics (replay): 1 order(s) whose events were applied out of order, e.g. o1']);
  });

  it('a group the replay must not touch: same rows, same offsets', () => {
    const rows = ledger('payments');
    expect(checkUntouched('payments', { rows, committed: [20, 5] }, { rows, committed: [20, 5] })).toEqual([]);
    const again = rows.map((r, i) => (i === 0 ? { ...r, applications: 2, lastSeq: 9 } : r));
    expect(checkUntouched('payments', { rows, committed: [20, 5] }, { rows: again, committed: [20, 5] })[0]).toMatch(/payments: its ledger changed .* e.g. o1.created/);
    expect(checkUntouched('payments', { rows, committed: [20, 5] }, { rows, committed: [3, 5] })).toEqual([
      "payments: committed offsets moved during another group's replay (partition(s) 0)",
    ]);
  });

  it('caught up: every partition committed to its end; an empty partition has nothing to commit', () => {
    expect(partitionsCaughtUp([{ committed: 20, end: 20 }, { committed: null, end: undefined }])).toBe(true);
    expect(partitionsCaughtUp([{ committed: 19, end: 20 }])).toBe(false);
    expect(partitionsCaughtUp([{ committed: null, end: 3 }])).toBe(false);
    expect(partitionsCaughtUp([])).toBe(false);
  });
});

describe('stream demo summary', () => {
  const summary: StreamSummary = {
    stream: 'order-log',
    partitions: 4,
    sent: 4,
    accepted: 4,
    created: 3,
    cancelled: 1,
    consumedSeconds: 2.5,
    groups: [{ group: 'analytics', applied: 4, duplicates: 0, missing: 0, orderHeld: true, lag: 0 }],
    skipped: [],
    replay: {
      group: 'analytics',
      to: '3s ago',
      restart: [{ partition: 0, restartAt: 11, firstTimestamp: '2026-11-30T12:00:02.000Z' }, { partition: 1, restartAt: 'new records only' }],
      reapplied: 2,
      expected: 2,
      secondWave: 2,
      secondWaveFrom: '2026-11-30T12:00:02.000Z',
      caughtUpSeconds: 1.2,
      untouched: ['payments'],
    },
    tablePrefix: 'warren_demo_abc_',
    kept: false,
    topologyFile: 'topology/orders-stream.yaml',
  };

  it('says what was published, the per-group table, the replay and the verdict', () => {
    const text = renderStreamSummary(summary, []);
    expect(text).toContain('accepted: 4 of 4 events over POST /v1/events (3 order.created, 1 order.cancelled) into order-log (4 partitions)');
    expect(text).toMatch(/analytics\s+4\s+0\s+0\s+held\s+0/);
    expect(text).toContain('replay: group analytics reset --to "3s ago" (what `warren stream reset --group analytics --to "3s ago"` does)');
    expect(text).toContain('partition 0: re-read from offset 11 (published 2026-11-30T12:00:02.000Z)');
    expect(text).toContain('partition 1: new records only');
    expect(text).toContain('re-applied 2 records (expected 2');
    expect(text).toContain('untouched: payments');
    expect(text).toMatch(/^OK: /m);
    expect(text).not.toContain('stream status');
  });

  it('lists the failed checks, and how to look when kept', () => {
    const text = renderStreamSummary({ ...summary, kept: true, consumedSeconds: undefined, replay: undefined }, ['analytics: 1 events applied more than once']);
    expect(text).toContain('the groups did NOT commit everything before the timeout');
    expect(text).toContain('FAILED: 1 check(s):\n  - analytics: 1 events applied more than once');
    expect(text).toContain('npx warren stream status --group analytics --table-prefix warren_demo_abc_');
  });
});
