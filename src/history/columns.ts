import type { AttemptRecord, HistoryRow, JobAcceptedRecord, JobEventRecord } from './records.ts';
import type { HistoryTableName } from './sql.ts';

/**
 * Pure: a batch of rows → one array per column and table, the parameters of
 * the `unnest` INSERTs in sql.ts (one statement per table, whatever the
 * batch size). NUL characters, which PostgreSQL text cannot hold, are
 * removed from free text.
 */
export type ColumnArrays = Record<HistoryTableName, unknown[][] | undefined>;

export function columnsOf(rows: readonly HistoryRow[]): ColumnArrays {
  const jobs: JobAcceptedRecord[] = [];
  const attempts: AttemptRecord[] = [];
  const events: JobEventRecord[] = [];
  for (const entry of rows) {
    if (entry.table === 'jobs') jobs.push(entry.row);
    else if (entry.table === 'attempts') attempts.push(entry.row);
    else events.push(entry.row);
  }
  return {
    jobs: jobs.length === 0 ? undefined : columns(jobs, [
      (r) => clean(r.id),
      (r) => clean(r.jobType),
      (r) => r.acceptedAtMs,
      (r) => cleanOrNull(r.correlationId),
      (r) => r.payloadSize,
      (r) => r.payload,
      (r) => r.traceId,
      (r) => r.submittedBy,
    ]),
    attempts: attempts.length === 0 ? undefined : columns(attempts, [
      (r) => clean(r.jobId),
      (r) => cleanOrNull(r.jobType),
      (r) => clean(r.consumer),
      (r) => r.attempt,
      (r) => r.startedAtMs,
      (r) => r.finishedAtMs,
      (r) => r.outcome,
      (r) => cleanOrNull(r.deadLetterReason),
      (r) => cleanOrNull(r.errorClass),
      (r) => cleanOrNull(r.errorMessage),
      (r) => clean(r.workerId),
      (r) => r.traceId,
    ]),
    events: events.length === 0 ? undefined : columns(events, [
      (r) => clean(r.jobId),
      (r) => cleanOrNull(r.jobType),
      (r) => r.kind,
      (r) => cleanOrNull(r.consumer),
      (r) => clean(r.queue),
      (r) => r.atMs,
    ]),
  };
}

function columns<T>(rows: readonly T[], getters: ReadonlyArray<(row: T) => unknown>): unknown[][] {
  return getters.map((get) => rows.map(get));
}

function clean(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}

function cleanOrNull(text: string | null): string | null {
  return text === null ? null : clean(text);
}
