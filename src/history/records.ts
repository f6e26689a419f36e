/**
 * The rows of the job history, as the recorder takes them and the store
 * returns them. Times are epoch milliseconds on the way in (cheap to take on
 * the hot path) and `Date`s on the way out.
 */

/** How one attempt of one consumer ended (the worker's settle outcomes). */
export type AttemptOutcome = 'succeeded' | 'retried' | 'dead-lettered' | 'duplicate' | 'released';

/** What can happen to a job outside its attempts. */
export type JobEventKind = 'replayed' | 'purged';

/** A job the producer or the job client got confirmed by the broker. */
export interface JobAcceptedRecord {
  id: string;
  jobType: string;
  acceptedAtMs: number;
  correlationId: string | null;
  payloadSize: number;
  /** The payload's JSON text, only when recording payloads is on. */
  payload: string | null;
  traceId: string | null;
  /** Who enqueued it over HTTP: a fingerprint of the API token (never the token). */
  submittedBy: string | null;
}

/** One attempt of one consumer, written when it ends. */
export interface AttemptRecord {
  jobId: string;
  jobType: string | null;
  consumer: string;
  attempt: number;
  startedAtMs: number;
  finishedAtMs: number;
  outcome: AttemptOutcome;
  /** Set when the outcome is `dead-lettered`. */
  deadLetterReason: string | null;
  errorClass: string | null;
  errorMessage: string | null;
  workerId: string;
  traceId: string | null;
}

/** A DLQ replay or purge of a job. */
export interface JobEventRecord {
  jobId: string;
  jobType: string | null;
  kind: JobEventKind;
  /** The consumer whose DLQ it was. */
  consumer: string | null;
  queue: string;
  atMs: number;
}

export type HistoryRow =
  | { table: 'jobs'; row: JobAcceptedRecord }
  | { table: 'attempts'; row: AttemptRecord }
  | { table: 'events'; row: JobEventRecord };

export type HistoryTable = HistoryRow['table'];

/** Longest error message kept per attempt: the history is a timeline, not a log store. */
export const ERROR_MESSAGE_MAX = 1_000;

/** The message, cut to `ERROR_MESSAGE_MAX` characters. */
export function boundedMessage(message: string | null | undefined): string | null {
  if (message === undefined || message === null) return null;
  return message.length > ERROR_MESSAGE_MAX ? `${message.slice(0, ERROR_MESSAGE_MAX - 1)}…` : message;
}
