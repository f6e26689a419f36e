import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { PostgresHistoryStore } from './postgres-store.ts';
import { HistoryReader } from './reader.ts';
import { WriterRecorder, type HistoryRecorder } from './recorder.ts';
import { DEFAULT_SCHEMA } from './sql.ts';
import { HistoryWriter, type HistoryWriterOptions } from './writer.ts';

/**
 * The job history (opt-in): what happened to each job, kept in PostgreSQL.
 * On when `WARREN_HISTORY_URL` is set (or `history` is passed in code) for
 * the producer, the job client, the workers and the DLQ commands.
 */
export interface HistoryOptions {
  /** PostgreSQL URL (`WARREN_HISTORY_URL`). */
  url: string;
  /** Schema of the tables. @defaultValue 'warren_history' (`WARREN_HISTORY_SCHEMA`) */
  schema?: string;
  /** Whole days kept. @defaultValue 7 (`WARREN_HISTORY_RETENTION_DAYS`) */
  retentionDays?: number;
  /** Also keep each job's payload. @defaultValue false (`WARREN_HISTORY_PAYLOAD=1`) */
  recordPayload?: boolean;
  /** Larger payloads are not kept (their size is). @defaultValue 65_536 */
  payloadMaxBytes?: number;
  /** Backlog bound, batch size, flush interval, retry pauses. */
  writer?: Omit<HistoryWriterOptions, 'logger' | 'registry'>;
}

export const HISTORY_DEFAULTS = { schema: DEFAULT_SCHEMA, retentionDays: 7, recordPayload: false, payloadMaxBytes: 65_536 } as const;

/** An open history: record (producer, client, worker, DLQ), read (routes, CLI), close. */
export interface JobHistoryHandle {
  readonly recorder: HistoryRecorder;
  readonly reader: HistoryReader;
  readonly writer: HistoryWriter;
  /** Creates the schema and the partitions now (they are otherwise made by the first write); rejects while the database is unreachable. */
  ready(): Promise<void>;
  /** Writes what is queued (up to `timeoutMs`), counts the rest as dropped, closes the pool. Safe to call twice. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Opens the history without waiting for the database: the schema is created
 * on the first write or read, and a database that is away only delays (and
 * at worst drops, counted) history rows, never jobs.
 */
export function openHistory(options: HistoryOptions, context: { logger: Logger; registry?: Registry | undefined }): JobHistoryHandle {
  const logger = context.logger.child({ component: 'history' });
  const store = new PostgresHistoryStore({
    url: options.url,
    schema: options.schema ?? HISTORY_DEFAULTS.schema,
    retentionDays: options.retentionDays ?? HISTORY_DEFAULTS.retentionDays,
    logger,
  });
  const writer = new HistoryWriter(store, { ...options.writer, logger, registry: context.registry });
  const recorder = new WriterRecorder(writer, options.recordPayload ?? HISTORY_DEFAULTS.recordPayload, options.payloadMaxBytes ?? HISTORY_DEFAULTS.payloadMaxBytes);
  let closing: Promise<void> | undefined;
  return {
    recorder,
    reader: new HistoryReader(store),
    writer,
    ready: () => store.ready(),
    close: (timeoutMs) => {
      closing ??= (async () => {
        await writer.close(timeoutMs);
        await store.close();
      })();
      return closing;
    },
  };
}

/** The history settings of the environment, or undefined when `WARREN_HISTORY_URL` is not set (history off). */
export function historyOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): HistoryOptions | undefined {
  const url = env.WARREN_HISTORY_URL?.trim();
  if (url === undefined || url === '') return undefined;
  const options: HistoryOptions = { url };
  const schema = env.WARREN_HISTORY_SCHEMA?.trim();
  if (schema) options.schema = schema;
  const retention = env.WARREN_HISTORY_RETENTION_DAYS?.trim();
  if (retention) {
    const days = Number(retention);
    if (!Number.isInteger(days) || days < 1) throw new RangeError('WARREN_HISTORY_RETENTION_DAYS must be a whole number of days, at least 1');
    options.retentionDays = days;
  }
  const payload = env.WARREN_HISTORY_PAYLOAD?.trim();
  if (payload) {
    if (!['0', '1', 'true', 'false'].includes(payload)) throw new RangeError('WARREN_HISTORY_PAYLOAD must be 0 or 1');
    options.recordPayload = payload === '1' || payload === 'true';
  }
  return options;
}

/**
 * What a component is given: `false` turns history off whatever the
 * environment says, options turn it on, an open handle is shared (several
 * workers, or a producer and its DLQ routes, in one process), undefined
 * follows the environment.
 */
export type HistorySetting = HistoryOptions | JobHistoryHandle | false | undefined;

/** Resolves a setting: the handle to use, and whether the caller owns (and must close) it. */
export function resolveHistory(setting: HistorySetting, context: { logger: Logger; registry?: Registry | undefined }): { handle: JobHistoryHandle; owned: boolean } | undefined {
  if (setting === false) return undefined;
  if (setting !== undefined && 'recorder' in setting) return { handle: setting, owned: false };
  const options = setting ?? historyOptionsFromEnv();
  if (options === undefined) return undefined;
  const handle = openHistory(options, context);
  // Early word if the database is not there; nothing waits on it.
  handle.ready().catch((error: unknown) => context.logger.warn({ reason: error instanceof Error ? error.message : String(error) }, 'history: database not ready yet; rows are kept in memory and retried'));
  return { handle, owned: true };
}

export { HistoryWriter, HistoryRowsRejectedError, type HistorySink, type HistoryWriterOptions } from './writer.ts';
export { HistoryReader, InvalidCursorError, SEARCH_MAX_LIMIT, type JobSearch, type JobSearchPage, type JobSummary, type JobLookup } from './reader.ts';
export type { HistoryRecorder } from './recorder.ts';
export type { JobHistory, ConsumerTimeline, AttemptView, JobEventView } from './timeline.ts';
export { consumerState, CONSUMER_STATES, type ConsumerState } from './state.ts';
export { traceIdOf, traceIdOfHeaders } from './trace-id.ts';
export type { AttemptOutcome, AttemptRecord, JobAcceptedRecord, JobEventRecord, JobEventKind } from './records.ts';
