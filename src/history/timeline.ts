import type { AttemptOutcome, JobEventKind } from './records.ts';
import { consumerState, type ConsumerState } from './state.ts';

/**
 * Pure: rows read back from the history → the answer of
 * `GET /v1/jobs/{jobType}/{id}` and `warren job <id>`: the job, and per
 * consumer its state and its attempts in order, plus the job's DLQ events.
 */

export interface JobRow {
  id: string;
  job_type: string;
  accepted_at: Date;
  correlation_id: string | null;
  payload_size: number;
  payload: unknown;
  trace_id: string | null;
  submitted_by: string | null;
}

export interface AttemptRow {
  job_type: string | null;
  consumer: string;
  attempt: number;
  started_at: Date;
  finished_at: Date;
  outcome: AttemptOutcome;
  dead_letter_reason: string | null;
  error_class: string | null;
  error_message: string | null;
  worker_id: string;
  trace_id: string | null;
}

export interface EventRow {
  kind: JobEventKind;
  consumer: string | null;
  queue: string;
  at: Date;
}

export interface AttemptView {
  attempt: number;
  startedAt: string;
  finishedAt: string;
  outcome: AttemptOutcome;
  deadLetterReason?: string;
  error: { class: string; message: string } | null;
  workerId: string;
  traceId: string | null;
}

export interface ConsumerTimeline {
  consumer: string;
  state: ConsumerState;
  attempts: AttemptView[];
}

export interface JobEventView {
  kind: JobEventKind;
  consumer: string | null;
  queue: string;
  at: string;
}

export interface JobHistory {
  id: string;
  jobType: string | null;
  /** Null when the job was published by something that does not record history (its attempts are still shown). */
  acceptedAt: string | null;
  correlationId: string | null;
  payloadSize: number | null;
  /** Only when payload recording is on. */
  payload?: unknown;
  /** From the job's `traceparent` at acceptance, else from its first attempt that carried one. */
  traceId: string | null;
  consumers: ConsumerTimeline[];
  events: JobEventView[];
}

/** The history of one job, or undefined when nothing at all is recorded for it. */
export function buildJobHistory(id: string, job: JobRow | undefined, attempts: readonly AttemptRow[], events: readonly EventRow[]): JobHistory | undefined {
  if (job === undefined && attempts.length === 0 && events.length === 0) return undefined;
  const byConsumer = new Map<string, AttemptRow[]>();
  for (const attempt of attempts) {
    const list = byConsumer.get(attempt.consumer) ?? [];
    list.push(attempt);
    byConsumer.set(attempt.consumer, list);
  }
  for (const event of events) {
    if (event.consumer !== null && !byConsumer.has(event.consumer)) byConsumer.set(event.consumer, []);
  }
  const consumers = [...byConsumer.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([consumer, list]): ConsumerTimeline => {
      const ordered = [...list].sort(byAttemptOrder);
      const own = events.filter((event) => event.consumer === consumer);
      return {
        consumer,
        state: consumerState(
          ordered.map((a) => ({ attempt: a.attempt, finishedAt: a.finished_at, outcome: a.outcome })),
          own.map((e) => ({ kind: e.kind, at: e.at })),
        ),
        attempts: ordered.map(attemptView),
      };
    });
  const traceId = job?.trace_id ?? [...attempts].sort(byAttemptOrder).find((a) => a.trace_id !== null)?.trace_id ?? null;
  return {
    id,
    jobType: job?.job_type ?? attempts.find((a) => a.job_type !== null)?.job_type ?? null,
    acceptedAt: job?.accepted_at.toISOString() ?? null,
    correlationId: job?.correlation_id ?? null,
    payloadSize: job?.payload_size ?? null,
    ...(job?.payload !== undefined && job.payload !== null && { payload: job.payload }),
    traceId,
    consumers,
    events: [...events].sort((a, b) => a.at.getTime() - b.at.getTime()).map((e) => ({ kind: e.kind, consumer: e.consumer, queue: e.queue, at: e.at.toISOString() })),
  };
}

/** Attempts in the order they happened: by start, then attempt number. */
function byAttemptOrder(a: AttemptRow, b: AttemptRow): number {
  return a.started_at.getTime() - b.started_at.getTime() || a.attempt - b.attempt || a.finished_at.getTime() - b.finished_at.getTime();
}

function attemptView(row: AttemptRow): AttemptView {
  return {
    attempt: row.attempt,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at.toISOString(),
    outcome: row.outcome,
    ...(row.dead_letter_reason !== null && { deadLetterReason: row.dead_letter_reason }),
    error: row.error_class === null && row.error_message === null ? null : { class: row.error_class ?? 'Error', message: row.error_message ?? '' },
    workerId: row.worker_id,
    traceId: row.trace_id,
  };
}

/** Opaque search cursor: where the previous page ended (newest first). */
export function encodeCursor(acceptedAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([acceptedAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { acceptedAt: string; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [acceptedAt, id] = value as unknown[];
    if (typeof acceptedAt !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(acceptedAt))) return undefined;
    return { acceptedAt, id };
  } catch {
    return undefined;
  }
}
