import pg from 'pg';
import { redactText } from '../broker/urls.ts';
import { checkoutClient, type CheckedOutClient } from '../postgres/checkout.ts';
import type { Logger } from '../log.ts';
import { batchJson } from './columns.ts';
import type { HistoryRow } from './records.ts';
import { daysToCreate, HISTORY_TABLES, historySql, partitionsToDrop, utcDay, type HistorySql, type HistoryTableName } from './sql.ts';
import { HistoryRowsRejectedError, type HistorySink } from './writer.ts';

export interface PostgresHistoryStoreOptions {
  /** `postgres://user[:password]@host:port/database` (`WARREN_HISTORY_URL`). */
  url: string;
  /** Schema holding the three tables, created if missing. @defaultValue 'warren_history' */
  schema: string;
  /** Whole days kept; older day partitions are dropped. @defaultValue 7 */
  retentionDays: number;
  /** Day partitions created ahead of today. @defaultValue 2 */
  aheadDays?: number;
  /** A write or query that takes longer fails (and the writer retries later). @defaultValue 10_000 */
  statementTimeoutMs?: number;
  logger: Logger;
}

/** SQLSTATE classes of data the database refuses whatever the retry: 22 (data exception), 23 (constraint; also "no partition"). */
const DATA_ERROR = /^2[23]/;
const NO_PARTITION = '23514';
const UNDEFINED_TABLE = '42P01';

/**
 * The job history in PostgreSQL: schema created on first use, day
 * partitions kept ahead of time and dropped past the retention, batched
 * writes (one `unnest` INSERT per table, in one transaction) for the
 * writer, and the pool the queries read through. A small pool of its own:
 * history never competes with the idempotency store's connections.
 */
export class PostgresHistoryStore implements HistorySink {
  readonly sql: HistorySql;
  private readonly pool: pg.Pool;
  private readying: Promise<void> | undefined;
  /** The UTC day whose partitions were last ensured. */
  private maintainedDay = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PostgresHistoryStoreOptions) {
    this.sql = historySql(options.schema);
    if (!Number.isInteger(options.retentionDays) || options.retentionDays < 1) throw new RangeError('history: retentionDays must be a whole number of days, at least 1');
    const timeout = options.statementTimeoutMs ?? 10_000;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: 2,
      connectionTimeoutMillis: Math.min(timeout, 5_000),
      query_timeout: timeout,
      idleTimeoutMillis: 10_000,
      application_name: 'warren-history',
    });
    // A database going away must never crash the process it records.
    this.pool.on('error', (error) => options.logger.debug({ reason: redactText(error.message) }, 'history: idle connection lost'));
  }

  /** Creates the schema and today's partitions if missing; safe to call concurrently and from several processes. */
  ready(): Promise<void> {
    const readying = (this.readying ??= this.maintain(Date.now()).then(
      () => undefined,
      (error: unknown) => {
        this.readying = undefined;
        throw error;
      },
    ));
    return readying;
  }

  /** Tables, partitions from yesterday to `aheadDays` ahead, and partitions past the retention dropped. Returns the dropped ones. */
  async maintain(nowMs: number): Promise<string[]> {
    const { client, release } = await this.checkout();
    try {
      await client.query('BEGIN');
      await client.query(this.sql.lock, [`warren_history:${this.sql.schema}`]);
      for (const statement of this.sql.createTables) await client.query(statement);
      for (const day of daysToCreate(nowMs, this.options.aheadDays ?? 2)) {
        for (const table of HISTORY_TABLES) await client.query(this.sql.createPartition(table, day));
      }
      const existing = await client.query<{ name: string }>(this.sql.listPartitions, [this.sql.schema]);
      const drop = partitionsToDrop(existing.rows.map((row) => row.name), nowMs, this.options.retentionDays);
      for (const name of drop) await client.query(this.sql.dropPartition(name));
      await client.query('COMMIT');
      this.maintainedDay = utcDay(nowMs);
      if (drop.length > 0) this.options.logger.info({ dropped: drop }, 'history: partitions past the retention dropped');
      return drop;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      release(false);
    }
  }

  async write(rows: readonly HistoryRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ready();
    const now = Date.now();
    // Once a day (per process): the next partitions, and the retention.
    if (utcDay(now) !== this.maintainedDay) await this.maintain(now);
    try {
      await this.insert(rows);
    } catch (error) {
      if (pgCode(error) === NO_PARTITION) {
        // A row outside the prepared days (a clock far off): prepare, try once more.
        await this.maintain(Date.now());
        await this.insert(rows).catch((again: unknown) => this.rejectOrThrow(rows, again));
        return;
      }
      await this.rejectOrThrow(rows, error);
    }
  }

  /** Runs a read query; a history that was never written reads as empty. */
  async query<R>(text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query(text, values)).rows as R[];
    } catch (error) {
      if (pgCode(error) === UNDEFINED_TABLE) return [];
      throw error;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end().catch(() => undefined);
    return this.closing;
  }

  private async insert(rows: readonly HistoryRow[]): Promise<void> {
    const batch = batchJson(rows);
    const { client, release } = await this.checkout();
    let broken = false;
    try {
      await client.query('BEGIN');
      // History is diagnostic: a commit need not wait for its WAL flush. The
      // broker's own fsyncs (quorum queues) share the disk; a crash of
      // PostgreSQL may lose the last fraction of a second of history, never a job.
      await client.query('SET LOCAL synchronous_commit = off');
      for (const table of HISTORY_TABLES) {
        const json = batch[table];
        if (json !== undefined) await client.query(this.sql.insert[table as HistoryTableName], [json]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      release(broken);
    }
  }

  /** A checked-out client whose lost connection is logged and fails the write (see checkoutClient). */
  private checkout(): Promise<CheckedOutClient> {
    return checkoutClient(this.pool, (error) => this.options.logger.debug({ reason: redactText(error.message) }, 'history: connection lost during a write'));
  }

  /**
   * Data the database refuses (e.g. a payload jsonb cannot hold): the rows
   * go in one by one and only the refused ones are given up. Anything else
   * (unreachable, timeout) is thrown for the writer to retry.
   */
  private async rejectOrThrow(rows: readonly HistoryRow[], error: unknown): Promise<void> {
    if (!DATA_ERROR.test(pgCode(error) ?? '')) throw error;
    if (rows.length === 1) throw new HistoryRowsRejectedError(`the history database refused a row: ${redactText(errorMessage(error))}`, rows);
    const refused: HistoryRow[] = [];
    let reason = '';
    for (const row of rows) {
      try {
        await this.insert([row]);
      } catch (one) {
        if (!DATA_ERROR.test(pgCode(one) ?? '')) throw one;
        refused.push(row);
        reason = errorMessage(one);
      }
    }
    if (refused.length > 0) throw new HistoryRowsRejectedError(`the history database refused rows: ${redactText(reason)}`, refused);
  }
}

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
