/**
 * Pure: the job history's SQL. Three tables, each partitioned by day
 * (declarative range partitioning on its timestamp, UTC days): a partition
 * is created ahead of its day and dropped whole once older than the
 * retention, so retention costs a `DROP TABLE` a day instead of a `DELETE`.
 * The schema name is validated here and always used quoted.
 */

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

export const DEFAULT_SCHEMA = 'warren_history';
export const HISTORY_TABLES = ['jobs', 'attempts', 'events'] as const;
export type HistoryTableName = (typeof HISTORY_TABLES)[number];

/** The column each table is partitioned on. */
export const PARTITION_COLUMN: Record<HistoryTableName, string> = { jobs: 'accepted_at', attempts: 'finished_at', events: 'at' };

export function validateSchemaName(name: string): string {
  if (!SCHEMA_NAME.test(name)) {
    throw new RangeError(`invalid history schema name ${JSON.stringify(name)}: lowercase letters, digits and _ (at most 40), not starting with a digit`);
  }
  return name;
}

const DAY_MS = 86_400_000;

/** The UTC day (midnight) a time falls in. */
export function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** `attempts_p20261130`: the partition of a table for the UTC day starting at `dayMs`. */
export function partitionName(table: HistoryTableName, dayMs: number): string {
  return `${table}_p${new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The UTC day of a partition name, or undefined for a name that is not one of ours. */
export function partitionDay(name: string): { table: HistoryTableName; dayMs: number } | undefined {
  const match = /^(jobs|attempts|events)_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  if (match === null) return undefined;
  const dayMs = Date.UTC(Number(match[2]), Number(match[3]) - 1, Number(match[4]));
  return Number.isNaN(dayMs) ? undefined : { table: match[1] as HistoryTableName, dayMs };
}

/** The days that must have partitions: yesterday (late writers), today and `aheadDays` after. */
export function daysToCreate(nowMs: number, aheadDays: number): number[] {
  const today = utcDay(nowMs);
  const days: number[] = [];
  for (let offset = -1; offset <= aheadDays; offset++) days.push(today + offset * DAY_MS);
  return days;
}

/**
 * Partitions past the retention: a day's partition goes once the whole day
 * is more than `retentionDays` old, so at least `retentionDays` of history
 * is always kept (and at most one day more).
 */
export function partitionsToDrop(names: readonly string[], nowMs: number, retentionDays: number): string[] {
  const oldestKept = utcDay(nowMs) - retentionDays * DAY_MS;
  return names.filter((name) => {
    const day = partitionDay(name);
    return day !== undefined && day.dayMs < oldestKept;
  });
}

export interface HistorySql {
  readonly schema: string;
  /** Run in one transaction after `lock`. */
  readonly createTables: readonly string[];
  /** $1 the lock name: concurrent starts (producer, workers) never race on CREATE. */
  readonly lock: string;
  createPartition(table: HistoryTableName, dayMs: number): string;
  dropPartition(name: string): string;
  /** $1 schema; the partitions of our three tables. */
  readonly listPartitions: string;
  readonly insert: Record<HistoryTableName, string>;
}

export function historySql(schemaName: string): HistorySql {
  const schema = validateSchemaName(schemaName);
  const q = (table: string) => `"${schema}"."${table}"`;
  return {
    schema,
    lock: 'SELECT pg_advisory_xact_lock(hashtext($1))',
    createTables: [
      `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
      `CREATE TABLE IF NOT EXISTS ${q('jobs')} (
        id text NOT NULL,
        job_type text NOT NULL,
        accepted_at timestamptz NOT NULL,
        correlation_id text,
        payload_size integer NOT NULL,
        payload jsonb,
        trace_id text,
        submitted_by text
      ) PARTITION BY RANGE (accepted_at)`,
      `CREATE INDEX IF NOT EXISTS jobs_id ON ${q('jobs')} (id)`,
      `CREATE INDEX IF NOT EXISTS jobs_type_time ON ${q('jobs')} (job_type, accepted_at DESC, id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${q('attempts')} (
        job_id text NOT NULL,
        job_type text,
        consumer text NOT NULL,
        attempt integer NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('succeeded', 'retried', 'dead-lettered', 'duplicate', 'released')),
        dead_letter_reason text,
        error_class text,
        error_message text,
        worker_id text NOT NULL,
        trace_id text
      ) PARTITION BY RANGE (finished_at)`,
      `CREATE INDEX IF NOT EXISTS attempts_job ON ${q('attempts')} (job_id)`,
      `CREATE TABLE IF NOT EXISTS ${q('events')} (
        job_id text NOT NULL,
        job_type text,
        kind text NOT NULL CHECK (kind IN ('replayed', 'purged')),
        consumer text,
        queue text NOT NULL,
        at timestamptz NOT NULL
      ) PARTITION BY RANGE (at)`,
      `CREATE INDEX IF NOT EXISTS events_job ON ${q('events')} (job_id)`,
    ],
    createPartition: (table, dayMs) =>
      `CREATE TABLE IF NOT EXISTS ${q(partitionName(table, dayMs))} PARTITION OF ${q(table)} FOR VALUES FROM ('${new Date(dayMs).toISOString()}') TO ('${new Date(dayMs + DAY_MS).toISOString()}')`,
    dropPartition: (name) => {
      if (partitionDay(name) === undefined) throw new RangeError(`not a history partition: ${name}`);
      return `DROP TABLE IF EXISTS ${q(name)}`;
    },
    listPartitions: `SELECT c.relname AS name FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_class p ON p.oid = i.inhparent
      JOIN pg_namespace n ON n.oid = p.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND p.relname IN ('jobs', 'attempts', 'events')`,
    // One statement per table and batch, its one parameter the batch as a
    // JSON array (columns.ts); times are epoch milliseconds.
    insert: {
      jobs: `INSERT INTO ${q('jobs')} (id, job_type, accepted_at, correlation_id, payload_size, payload, trace_id, submitted_by)
        SELECT id, ty, to_timestamp(at / 1000.0), co, sz, pl::jsonb, tr, sb
        FROM json_to_recordset($1::json) AS t(id text, ty text, at float8, co text, sz integer, pl text, tr text, sb text)`,
      attempts: `INSERT INTO ${q('attempts')} (job_id, job_type, consumer, attempt, started_at, finished_at, outcome, dead_letter_reason, error_class, error_message, worker_id, trace_id)
        SELECT id, ty, cn, n, to_timestamp(st / 1000.0), to_timestamp(fi / 1000.0), oc, dr, ec, em, wk, tr
        FROM json_to_recordset($1::json) AS t(id text, ty text, cn text, n integer, st float8, fi float8, oc text, dr text, ec text, em text, wk text, tr text)`,
      events: `INSERT INTO ${q('events')} (job_id, job_type, kind, consumer, queue, at)
        SELECT id, ty, ki, cn, qu, to_timestamp(at / 1000.0)
        FROM json_to_recordset($1::json) AS t(id text, ty text, ki text, cn text, qu text, at float8)`,
    },
  };
}
