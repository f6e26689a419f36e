import type { HistoryRow } from './records.ts';
import type { HistoryTableName } from './sql.ts';

/**
 * Pure: a batch of rows → one JSON array per table, the single parameter of
 * that table's `json_to_recordset` INSERT in sql.ts (one statement per
 * table whatever the batch size). One `JSON.stringify` per batch costs the
 * writer far less than escaping a dozen array parameters. Keys are the
 * record columns of sql.ts; times are epoch milliseconds. NUL characters,
 * which PostgreSQL text cannot hold, are removed from free text.
 */
export type BatchJson = Record<HistoryTableName, string | undefined>;

export function batchJson(rows: readonly HistoryRow[]): BatchJson {
  const jobs: unknown[] = [];
  const attempts: unknown[] = [];
  const events: unknown[] = [];
  for (const entry of rows) {
    if (entry.table === 'jobs') {
      const r = entry.row;
      jobs.push({ id: clean(r.id), ty: clean(r.jobType), at: r.acceptedAtMs, co: cleanOrNull(r.correlationId), sz: r.payloadSize, pl: r.payload, tr: r.traceId, sb: r.submittedBy });
    } else if (entry.table === 'attempts') {
      const r = entry.row;
      attempts.push({
        id: clean(r.jobId),
        ty: cleanOrNull(r.jobType),
        cn: clean(r.consumer),
        n: r.attempt,
        st: r.startedAtMs,
        fi: r.finishedAtMs,
        oc: r.outcome,
        dr: cleanOrNull(r.deadLetterReason),
        ec: cleanOrNull(r.errorClass),
        em: cleanOrNull(r.errorMessage),
        wk: clean(r.workerId),
        tr: r.traceId,
      });
    } else {
      const r = entry.row;
      events.push({ id: clean(r.jobId), ty: cleanOrNull(r.jobType), ki: r.kind, cn: cleanOrNull(r.consumer), qu: clean(r.queue), at: r.atMs });
    }
  }
  const json = (list: unknown[]) => (list.length === 0 ? undefined : JSON.stringify(list));
  return { jobs: json(jobs), attempts: json(attempts), events: json(events) };
}

function clean(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}

function cleanOrNull(text: string | null): string | null {
  return text === null ? null : clean(text);
}
