import type { StreamLagReading } from './metrics-text.ts';
import type { Snapshot } from './snapshot.ts';

/**
 * Pure: the live view of `warren up`. A table redrawn in place on a
 * terminal; one JSON line per reading otherwise (logs, CI, pipes).
 */

const COLUMNS = ['CONSUMER', 'STATE', 'PROCESSED', 'RETRIED', 'RETRYING', 'DEAD-LETTERED', 'IN DLQ', 'LAG', 'RATE/s'] as const;

export interface ViewRow {
  consumer: string;
  state: string;
  processed: number;
  retried: number;
  retrying: number;
  deadLettered: number;
  inDlq: number;
  lag: number;
  /** Jobs processed per second since the previous reading. */
  rate: number;
}

export function viewRows(current: Snapshot, previous: Snapshot | undefined): ViewRow[] {
  const seconds = previous ? Math.max((current.at - previous.at) / 1000, 0.001) : 0;
  return current.consumers.map((status) => {
    const before = previous?.consumers.find((c) => c.consumer === status.consumer);
    const done = status.counters.succeeded;
    const rate = before && seconds > 0 ? Math.max(0, done - before.counters.succeeded) / seconds : 0;
    return {
      consumer: status.consumer,
      state: status.state,
      processed: done,
      retried: status.counters.retried,
      retrying: status.retrying,
      deadLettered: status.counters.deadLettered,
      inDlq: status.inDlq,
      lag: status.lag,
      rate: Math.round(rate * 10) / 10,
    };
  });
}

export function renderTable(rows: readonly ViewRow[]): string[] {
  const cells = rows.map((row) => [
    row.consumer,
    row.state,
    String(row.processed),
    String(row.retried),
    String(row.retrying),
    String(row.deadLettered),
    String(row.inDlq),
    String(row.lag),
    row.rate.toFixed(1),
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values.map((value, i) => (i < 2 ? value.padEnd(widths[i] ?? 0) : value.padStart(widths[i] ?? 0))).join('  ');
  return [line(COLUMNS), ...cells.map(line)];
}

const STREAM_COLUMNS = ['STREAM', 'GROUP', 'LAG', 'WORST', 'PER PARTITION'] as const;

/** The stream groups' lag under the consumers: total, worst partition, and each partition as `p:lag`. */
export function renderStreamTable(streams: StreamLagReading): string[] {
  if (!streams.ok) return [`streams: lag unknown — ${streams.reason}`];
  if (streams.groups.length === 0) return ['streams: no group lag (no group has committed yet, or the producer has no DATABASE_URL)'];
  const cells = streams.groups.map((group) => [
    group.stream,
    group.group,
    String(group.lag),
    `p${group.worst.partition}: ${group.worst.lag}`,
    group.partitions.map((p) => `${p.partition}:${p.lag}`).join(' '),
  ]);
  const widths = STREAM_COLUMNS.map((title, i) => Math.max(title.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : i === 2 ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ');
  return [line(STREAM_COLUMNS), ...cells.map(line)];
}

/** What the view says about the session besides the consumers. */
export interface ViewFlags {
  /** The producer runs without API tokens: every route is open. */
  insecure: boolean;
}

/** The first line of the terminal view; an insecure producer is named on every redraw. */
export function renderTitle(at: number, flags: ViewFlags, time: (at: number) => string = (t) => new Date(t).toLocaleTimeString()): string {
  const warning = flags.insecure ? ' — !! INSECURE: the producer has no API tokens, every route is open' : '';
  return `warren up — ${time(at)} — Ctrl-C stops everything${warning}`;
}

export function renderJsonLine(at: number, rows: readonly ViewRow[], flags: ViewFlags, streams?: StreamLagReading): string {
  return JSON.stringify({ at: new Date(at).toISOString(), insecure: flags.insecure, consumers: rows, ...(streams !== undefined && { streams }) });
}
