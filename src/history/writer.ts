import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import type { HistoryRow, HistoryTable } from './records.ts';

/** Where batches go (PostgreSQL in production, an array in tests). All rows of one call commit together or not at all. */
export interface HistorySink {
  write(rows: readonly HistoryRow[]): Promise<void>;
}

/**
 * Rows the sink refused for what they hold (not for being unreachable):
 * retrying them would fail again. The other rows of the batch were written.
 */
export class HistoryRowsRejectedError extends Error {
  readonly code = 'HISTORY_ROWS_REJECTED';
  constructor(
    message: string,
    readonly refused: readonly HistoryRow[],
  ) {
    super(message);
  }
}

export interface HistoryWriterOptions {
  /** Rows held in memory while the database is slow or away; past it, new rows are dropped and counted. @defaultValue 10_000 */
  maxBacklog?: number;
  /** The same bound in (approximate) bytes, for recorded payloads: rows past it are dropped and counted. @defaultValue 64 MiB */
  maxBacklogBytes?: number;
  /** Rows per write (one multi-row INSERT per table). @defaultValue 500 */
  batchSize?: number;
  /** A partial batch is written after at most this long. @defaultValue 250 */
  flushIntervalMs?: number;
  /** First pause after a failed write; doubles per failure. @defaultValue 500 */
  retryInitialMs?: number;
  /** Longest pause between tries while the database is away. @defaultValue 5_000 */
  retryMaxMs?: number;
  /** At most one "rows dropped" line per this long. @defaultValue 10_000 */
  logIntervalMs?: number;
  /** Where the writer's counters go (the worker's or the producer's registry). */
  registry?: Registry | undefined;
  logger: Logger;
}

export const WRITER_DEFAULTS = {
  maxBacklog: 10_000,
  maxBacklogBytes: 64 * 1024 * 1024,
  batchSize: 500,
  flushIntervalMs: 250,
  retryInitialMs: 500,
  retryMaxMs: 5_000,
  logIntervalMs: 10_000,
} as const;

/** The writer's metrics; `dropped` is the count of history rows that were never written. */
export interface HistoryWriterMetrics {
  written: Counter<'table'>;
  dropped: Counter<'table'>;
  writeFailures: Counter;
  backlog: Gauge;
}

/**
 * Batched, asynchronous history writes. `record` never waits and never
 * throws: it appends to a bounded in-memory backlog that a timer (or a full
 * batch) writes to the sink one batch at a time. While the sink fails the
 * rows stay (oldest first) and writes are retried with backoff; once the
 * backlog is full new rows are dropped, counted per table in
 * `warren_history_rows_dropped_total` and logged at most once per
 * `logIntervalMs`. Job processing never waits for the history.
 */
export class HistoryWriter {
  readonly metrics: HistoryWriterMetrics;
  private readonly options: Required<Omit<HistoryWriterOptions, 'registry' | 'logger'>>;
  private readonly logger: Logger;
  private backlog: HistoryRow[] = [];
  /** Approximate memory held by the backlog (`rowBytes`). */
  private backlogBytes = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private failures = 0;
  private retryAt = 0;
  private droppedSinceLog = 0;
  private lastDropLogAt = 0;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly sink: HistorySink,
    options: HistoryWriterOptions,
  ) {
    this.options = {
      maxBacklog: options.maxBacklog ?? WRITER_DEFAULTS.maxBacklog,
      maxBacklogBytes: options.maxBacklogBytes ?? WRITER_DEFAULTS.maxBacklogBytes,
      batchSize: options.batchSize ?? WRITER_DEFAULTS.batchSize,
      flushIntervalMs: options.flushIntervalMs ?? WRITER_DEFAULTS.flushIntervalMs,
      retryInitialMs: options.retryInitialMs ?? WRITER_DEFAULTS.retryInitialMs,
      retryMaxMs: options.retryMaxMs ?? WRITER_DEFAULTS.retryMaxMs,
      logIntervalMs: options.logIntervalMs ?? WRITER_DEFAULTS.logIntervalMs,
    };
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`history writer: ${name} must be a positive integer`);
    }
    this.logger = options.logger;
    const registers = options.registry === undefined ? [] : [options.registry];
    this.metrics = {
      written: new Counter({ name: 'warren_history_rows_written_total', help: 'Job history rows written to PostgreSQL, by table', labelNames: ['table'], registers }),
      dropped: new Counter({
        name: 'warren_history_rows_dropped_total',
        help: 'Job history rows never written (backlog full while the database was slow or away, or refused by it), by table',
        labelNames: ['table'],
        registers,
      }),
      writeFailures: new Counter({ name: 'warren_history_write_failures_total', help: 'Batch writes to the history database that failed (retried)', registers }),
      backlog: new Gauge({ name: 'warren_history_backlog', help: 'Job history rows waiting to be written', registers }),
    };
    this.timer = setInterval(() => this.tick(), this.options.flushIntervalMs);
    // The history never keeps a process alive on its own.
    this.timer.unref();
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.backlog.length;
  }

  /** Queue one row; O(1), never blocks, never throws. */
  record(row: HistoryRow): void {
    const bytes = rowBytes(row);
    if (this.closed || this.backlog.length >= this.options.maxBacklog || this.backlogBytes + bytes > this.options.maxBacklogBytes) {
      this.drop(row.table, 1, this.closed ? 'the history writer is closed' : 'the history backlog is full');
      return;
    }
    this.backlog.push(row);
    this.backlogBytes += bytes;
    if (this.backlog.length >= this.options.batchSize) this.tick();
  }

  /** Writes everything queued now (tests, shutdown). Resolves when the backlog is empty or a write failed. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.flushing !== undefined) {
        await this.flushing;
        continue;
      }
      if (this.backlog.length === 0) return;
      if (!(await this.writeBatch())) return;
    }
  }

  /** Stops the timer, writes what it can within `timeoutMs`, counts the rest as dropped. Safe to call twice. */
  close(timeoutMs = 5_000): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      const deadline = Date.now() + timeoutMs;
      this.retryAt = 0;
      while (this.backlog.length > 0 && Date.now() < deadline) {
        await this.flushing;
        if (this.backlog.length === 0) break;
        const ok = await raceDeadline(this.writeBatch(), deadline);
        if (ok === false) await sleepUntil(Math.min(deadline, Date.now() + this.options.retryInitialMs));
      }
      await this.flushing;
      this.closed = true;
      const left = this.backlog;
      this.backlog = [];
      this.backlogBytes = 0;
      for (const row of left) this.drop(row.table, 1, 'the history database did not take them before shutdown');
      this.metrics.backlog.set(0);
      if (this.droppedSinceLog > 0) this.logDrops('the history database did not take them before shutdown', true);
    })();
    return this.closing;
  }

  private tick(): void {
    if (this.flushing !== undefined || this.backlog.length === 0 || Date.now() < this.retryAt || this.closing !== undefined) return;
    void this.writeBatch().then((ok) => {
      // A full backlog drains batch after batch without waiting for the timer.
      if (ok && this.backlog.length >= this.options.batchSize) this.tick();
    });
  }

  /** One batch from the head of the backlog. True when it was written (or refused for good). */
  private writeBatch(): Promise<boolean> {
    const batch = this.backlog.splice(0, this.options.batchSize);
    for (const row of batch) this.backlogBytes -= rowBytes(row);
    this.metrics.backlog.set(this.backlog.length);
    const run = (async (): Promise<boolean> => {
      try {
        await this.sink.write(batch);
      } catch (error) {
        if (error instanceof HistoryRowsRejectedError) {
          const refused = new Set(error.refused);
          for (const row of batch) {
            if (refused.has(row)) this.drop(row.table, 1, error.message);
            else this.metrics.written.inc({ table: row.table });
          }
          return true;
        }
        this.failed(batch, error);
        return false;
      }
      for (const row of batch) this.metrics.written.inc({ table: row.table });
      if (this.failures > 0) this.logger.info({ afterFailures: this.failures, backlog: this.backlog.length }, 'history writes resumed');
      this.failures = 0;
      this.retryAt = 0;
      return true;
    })();
    const done = run.then(() => undefined);
    this.flushing = done;
    void done.finally(() => {
      if (this.flushing === done) this.flushing = undefined;
    });
    return run;
  }

  private failed(batch: HistoryRow[], error: unknown): void {
    this.metrics.writeFailures.inc();
    this.failures++;
    const pause = Math.min(this.options.retryMaxMs, this.options.retryInitialMs * 2 ** Math.min(this.failures - 1, 20));
    this.retryAt = Date.now() + pause;
    if (this.failures === 1) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn({ reason: reason.slice(0, 300), backlog: this.backlog.length + batch.length }, 'history database unavailable; keeping rows in memory and retrying (jobs are not affected)');
    }
    // Back at the head, oldest first; what no longer fits is the newest, dropped.
    this.backlog = batch.concat(this.backlog);
    for (const row of batch) this.backlogBytes += rowBytes(row);
    while (this.backlog.length > this.options.maxBacklog || this.backlogBytes > this.options.maxBacklogBytes) {
      const row = this.backlog.pop();
      if (row === undefined) break;
      this.backlogBytes -= rowBytes(row);
      this.drop(row.table, 1, 'the history backlog is full');
    }
    this.metrics.backlog.set(this.backlog.length);
  }

  private drop(table: HistoryTable, count: number, reason: string): void {
    this.metrics.dropped.inc({ table }, count);
    this.droppedSinceLog += count;
    this.logDrops(reason, false);
  }

  private logDrops(reason: string, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDropLogAt < this.options.logIntervalMs) return;
    this.logger.warn({ dropped: this.droppedSinceLog, reason }, 'job history rows dropped (see warren_history_rows_dropped_total)');
    this.lastDropLogAt = now;
    this.droppedSinceLog = 0;
  }
}

/** About what a row holds in memory: a fixed part, plus its payload and error message when it has them. */
function rowBytes(entry: HistoryRow): number {
  if (entry.table === 'jobs') return 256 + (entry.row.payload?.length ?? 0) * 2;
  if (entry.table === 'attempts') return 320 + (entry.row.errorMessage?.length ?? 0) * 2;
  return 192;
}

async function raceDeadline(write: Promise<boolean>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([write, late]);
  } finally {
    clearTimeout(timer);
  }
}

function sleepUntil(time: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));
}
