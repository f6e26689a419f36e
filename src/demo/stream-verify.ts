/**
 * Pure: the stream demo's checks, on the rows of the order-log groups'
 * ledger (workers/_order-ledger.ts: one row per group and event, with how
 * many times it was applied and in which order).
 *
 * - exactly once: each group has one row per accepted event, applied once,
 *   and none for an event nobody sent;
 * - per-key order: within a group, one order's events were applied in the
 *   order of their offsets (one order = one partition), `order.created`
 *   before `order.cancelled`;
 * - the replay: the reset group re-applied exactly the records from where
 *   the reset put each partition (once more each), in order again, and no
 *   other; every other group's rows and committed offsets are unchanged.
 */
export interface SentEvent {
  /** The event id (its Idempotency-Key). */
  id: string;
  orderId: string;
  type: string;
}

export interface LedgerRow {
  group: string;
  eventId: string;
  orderId: string;
  eventType: string;
  partition: number;
  offset: number;
  applications: number;
  firstSeq: number;
  lastSeq: number;
}

/** Where a reset put one partition: re-read from this offset, from the first record, or nothing (new records only). */
export type RestartPoint = number | 'first' | 'new records only';

export interface GroupCount {
  group: string;
  /** Distinct events applied. */
  applied: number;
  /** Events applied more than once. */
  duplicates: number;
  /** Accepted events never applied. */
  missing: number;
}

export function checkExactlyOnce(group: string, sent: readonly SentEvent[], rows: readonly LedgerRow[]): { count: GroupCount; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map(rows.map((row) => [row.eventId, row]));
  const missing = sent.filter((event) => !byId.has(event.id));
  const sentIds = new Set(sent.map((event) => event.id));
  const unknown = rows.filter((row) => !sentIds.has(row.eventId));
  const duplicates = rows.filter((row) => row.applications !== 1);
  if (missing.length > 0) problems.push(`${group}: ${missing.length} of ${sent.length} events never applied, e.g. ${missing[0]?.id}`);
  if (duplicates.length > 0) problems.push(`${group}: ${duplicates.length} events applied more than once, e.g. ${duplicates[0]?.eventId} (${duplicates[0]?.applications}×)`);
  if (unknown.length > 0) problems.push(`${group}: ${unknown.length} applied events were never sent, e.g. ${unknown[0]?.eventId}`);
  return { count: { group, applied: rows.length - unknown.length, duplicates: duplicates.length, missing: missing.length }, problems };
}

/**
 * One order's rows, by offset: the sequence of application (`firstSeq`, or
 * `lastSeq` for what a replay applied last) must rise with the offset, its
 * events must share a partition, and a cancellation must come after its creation.
 */
export function checkKeyOrder(group: string, rows: readonly LedgerRow[], seq: 'firstSeq' | 'lastSeq' = 'firstSeq'): string[] {
  const byOrder = new Map<string, LedgerRow[]>();
  for (const row of rows) byOrder.set(row.orderId, [...(byOrder.get(row.orderId) ?? []), row]);
  let outOfOrder = 0;
  let split = 0;
  let example = '';
  for (const [orderId, events] of byOrder) {
    if (events.length < 2) continue;
    const partitions = new Set(events.map((e) => e.partition));
    if (partitions.size > 1) {
      split++;
      example ||= orderId;
      continue;
    }
    const byOffset = [...events].sort((a, b) => a.offset - b.offset);
    const rises = byOffset.every((event, i) => i === 0 || event[seq] > (byOffset[i - 1]?.[seq] ?? 0));
    const createdFirst = byOffset.findIndex((e) => e.eventType === 'order.created') <= Math.max(0, byOffset.findIndex((e) => e.eventType === 'order.cancelled'));
    if (!rises || !createdFirst) {
      outOfOrder++;
      example ||= orderId;
    }
  }
  const problems: string[] = [];
  if (split > 0) problems.push(`${group}: ${split} order(s) whose events are in different partitions, e.g. ${example}`);
  if (outOfOrder > 0) problems.push(`${group}: ${outOfOrder} order(s) whose events were applied out of order, e.g. ${example}`);
  return problems;
}

/** The rows a reset to these restart points must re-apply: every record at or after its partition's restart point. */
export function expectedReplay(rows: readonly LedgerRow[], restart: ReadonlyMap<number, RestartPoint>): Set<string> {
  const expected = new Set<string>();
  for (const row of rows) {
    const point = restart.get(row.partition);
    if (point === undefined || point === 'new records only') continue;
    if (point === 'first' || row.offset >= point) expected.add(row.eventId);
  }
  return expected;
}

export interface ReplayCheck {
  /** Records applied a second time. */
  reapplied: number;
  expected: number;
  problems: string[];
}

/** After the replay: the expected rows applied twice (in order again), the others still once. */
export function checkReplay(group: string, rowsAfter: readonly LedgerRow[], expected: ReadonlySet<string>): ReplayCheck {
  const problems: string[] = [];
  const reapplied = rowsAfter.filter((row) => row.applications === 2);
  const wrong = rowsAfter.filter((row) => row.applications !== (expected.has(row.eventId) ? 2 : 1));
  const notAgain = wrong.filter((row) => expected.has(row.eventId) && row.applications < 2);
  const extra = wrong.filter((row) => !(expected.has(row.eventId) && row.applications < 2));
  if (notAgain.length > 0) problems.push(`${group}: ${notAgain.length} record(s) after the reset point were not re-applied, e.g. ${notAgain[0]?.eventId}`);
  if (extra.length > 0) {
    const row = extra[0];
    problems.push(`${group}: ${extra.length} record(s) applied a wrong number of times by the replay, e.g. ${row?.eventId} (${row?.applications}×, ${row !== undefined && expected.has(row.eventId) ? 'expected 2×' : 'before the reset point: expected 1×'})`);
  }
  problems.push(...checkKeyOrder(`${group} (replay)`, reapplied, 'lastSeq'));
  return { reapplied: reapplied.length, expected: expected.size, problems };
}

/** A group the replay must not have touched: same rows, same applications, same committed offsets. */
export function checkUntouched(
  group: string,
  before: { rows: readonly LedgerRow[]; committed: ReadonlyArray<number | null> },
  after: { rows: readonly LedgerRow[]; committed: ReadonlyArray<number | null> },
): string[] {
  const problems: string[] = [];
  const was = new Map(before.rows.map((row) => [row.eventId, row]));
  const changed = after.rows.filter((row) => {
    const old = was.get(row.eventId);
    return old === undefined || old.applications !== row.applications || old.lastSeq !== row.lastSeq;
  });
  if (changed.length > 0 || after.rows.length !== before.rows.length) {
    problems.push(`${group}: its ledger changed during another group's replay (${changed.length} row(s), e.g. ${changed[0]?.eventId ?? 'a row removed'})`);
  }
  const moved = after.committed.flatMap((offset, partition) => (offset !== (before.committed[partition] ?? null) ? [partition] : []));
  if (moved.length > 0) problems.push(`${group}: committed offsets moved during another group's replay (partition(s) ${moved.join(', ')})`);
  return problems;
}

/** Every partition committed up to its last record (an empty partition has nothing to commit). */
export function partitionsCaughtUp(partitions: ReadonlyArray<{ committed: number | null; end: number | undefined }>): boolean {
  return partitions.length > 0 && partitions.every((p) => p.end === undefined || (p.committed !== null && p.committed >= p.end));
}

/** Where a reset put a partition, in words. */
export function replayPoint(point: RestartPoint): string {
  if (point === 'first') return 're-reads from the first retained record';
  if (point === 'new records only') return 'nothing to re-read (no record at or after the time)';
  return `re-reads from offset ${point}`;
}
