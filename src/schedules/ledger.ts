import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { TickRow } from './rule.ts';

/**
 * The scheduler's record in PostgreSQL: per schedule a cursor (every tick at
 * or before it is handled), and per tick one row, inserted in the same
 * transaction that moves the cursor past it. The primary key on
 * (scope, schedule, tick) is what makes a tick claimable once; `enqueued_at`
 * is set once the broker confirmed its job, so a tick claimed by a replica
 * that died before the confirm is found and published again (same job id)
 * by the next leader. `publishes` counts those publishes: a tick with
 * `publishes > 1` is the only kind that can be in the queue twice (the old
 * leader died between its confirm and its UPDATE), and workers drop the
 * second copy by its message id.
 *
 * All SQL runs on the session that holds the leader's advisory lock: if that
 * session is gone, so is the lock, and these statements fail instead of
 * writing next to a new leader.
 */

/** Lowercase identifiers, used quoted: a prefix can never carry SQL of its own. */
const PREFIX = /^[a-z_][a-z0-9_]{0,40}$/;

export const DEFAULT_TABLE_PREFIX = 'warren_schedule';

export function checkTablePrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) throw new RangeError(`schedule table prefix must match ${PREFIX.source}, got "${prefix}"`);
}


export interface ScheduleStatus {
  schedule: string;
  cursor: Date;
  skipped: number;
  lastEnqueued: Date | undefined;
  pending: number;
}

export class ScheduleLedger {
  private readonly state: string;
  private readonly ticks: string;

  constructor(
    private readonly client: pg.ClientBase,
    /** Schedules of different vhosts (topologies) sharing one database stay apart. */
    private readonly scope: string,
    prefix = DEFAULT_TABLE_PREFIX,
  ) {
    checkTablePrefix(prefix);
    this.state = `"${prefix}_state"`;
    this.ticks = `"${prefix}_ticks"`;
  }

  /** The advisory lock key of this scope: the replicas of one topology compete for it, other topologies do not. */
  static lockKey(scope: string, prefix = DEFAULT_TABLE_PREFIX): bigint {
    return createHash('sha256').update(`warren.scheduler\u0000${prefix}\u0000${scope}`).digest().readBigInt64BE(0);
  }

  async createTables(): Promise<void> {
    // Concurrent first starts would race on CREATE TABLE IF NOT EXISTS (a unique violation in pg_type): serialize them.
    await this.client.query('BEGIN');
    try {
      await this.client.query('SELECT pg_advisory_xact_lock($1)', [ScheduleLedger.lockKey('create-tables', this.state)]);
      await this.client.query(`CREATE TABLE IF NOT EXISTS ${this.state} (
        scope text NOT NULL, schedule text NOT NULL, cursor timestamptz NOT NULL, skipped bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, schedule))`);
      await this.client.query(`CREATE TABLE IF NOT EXISTS ${this.ticks} (
        scope text NOT NULL, schedule text NOT NULL, tick timestamptz NOT NULL, job_id text NOT NULL,
        claimed_by text NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now(), enqueued_at timestamptz,
        publishes integer NOT NULL DEFAULT 1, PRIMARY KEY (scope, schedule, tick))`);
      await this.client.query('COMMIT');
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Each schedule's cursor; a schedule seen for the first time starts at `now` (its first tick is the next one). */
  async cursors(schedules: readonly string[], now: Date): Promise<Map<string, Date>> {
    await this.client.query(
      `INSERT INTO ${this.state} (scope, schedule, cursor) SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING`,
      [this.scope, schedules, now],
    );
    const result = await this.client.query<{ schedule: string; cursor: Date }>(
      `SELECT schedule, cursor FROM ${this.state} WHERE scope = $1 AND schedule = ANY($2::text[])`,
      [this.scope, schedules],
    );
    return new Map(result.rows.map((row) => [row.schedule, row.cursor]));
  }

  /**
   * In one transaction: insert the ticks' rows and move the cursor. Returns
   * the ticks this call inserted (a row that already exists belongs to
   * whoever inserted it, and is never returned twice).
   */
  async claim(schedule: string, ticks: readonly TickRow[], cursor: Date, skipped: number, owner: string): Promise<TickRow[]> {
    await this.client.query('BEGIN');
    try {
      const inserted = await this.client.query<{ tick: Date; job_id: string }>(
        `INSERT INTO ${this.ticks} (scope, schedule, tick, job_id, claimed_by)
         SELECT $1, $2, t.tick, t.job_id, $5 FROM unnest($3::timestamptz[], $4::text[]) AS t(tick, job_id)
         ON CONFLICT DO NOTHING RETURNING tick, job_id`,
        [this.scope, schedule, ticks.map((t) => t.tick), ticks.map((t) => t.jobId), owner],
      );
      await this.client.query(
        `UPDATE ${this.state} SET cursor = GREATEST(cursor, $3), skipped = skipped + $4 WHERE scope = $1 AND schedule = $2`,
        [this.scope, schedule, cursor, skipped],
      );
      await this.client.query('COMMIT');
      return inserted.rows.map((row) => ({ schedule, tick: row.tick, jobId: row.job_id })).sort((a, b) => a.tick.getTime() - b.tick.getTime());
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Ticks claimed but not confirmed (a leader died, or the broker refused), oldest first; counted as published once more. */
  async takePending(owner: string): Promise<TickRow[]> {
    const result = await this.client.query<{ schedule: string; tick: Date; job_id: string }>(
      `UPDATE ${this.ticks} SET publishes = publishes + 1, claimed_by = $2
       WHERE scope = $1 AND enqueued_at IS NULL RETURNING schedule, tick, job_id`,
      [this.scope, owner],
    );
    return result.rows.map((row) => ({ schedule: row.schedule, tick: row.tick, jobId: row.job_id })).sort((a, b) => a.tick.getTime() - b.tick.getTime());
  }

  async markEnqueued(tick: TickRow): Promise<void> {
    await this.client.query(`UPDATE ${this.ticks} SET enqueued_at = now() WHERE scope = $1 AND schedule = $2 AND tick = $3`, [
      this.scope,
      tick.schedule,
      tick.tick,
    ]);
  }

  /** Forgets enqueued ticks older than `ms` (the cursor keeps what matters). */
  async prune(ms: number): Promise<number> {
    const result = await this.client.query(
      `DELETE FROM ${this.ticks} WHERE scope = $1 AND enqueued_at IS NOT NULL AND tick < now() - make_interval(secs => $2::double precision / 1000)`,
      [this.scope, ms],
    );
    return result.rowCount ?? 0;
  }

  /** For `warren schedules`: read-only, no lock needed. Empty when the tables do not exist yet. */
  async status(): Promise<ScheduleStatus[]> {
    const exists = await this.client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [this.state]);
    if (exists.rows[0]?.present !== true) return [];
    const result = await this.client.query<{ schedule: string; cursor: Date; skipped: string; last: Date | null; pending: string }>(
      `SELECT s.schedule, s.cursor, s.skipped,
         (SELECT max(t.tick) FROM ${this.ticks} t WHERE t.scope = s.scope AND t.schedule = s.schedule AND t.enqueued_at IS NOT NULL) AS last,
         (SELECT count(*) FROM ${this.ticks} t WHERE t.scope = s.scope AND t.schedule = s.schedule AND t.enqueued_at IS NULL) AS pending
       FROM ${this.state} s WHERE s.scope = $1`,
      [this.scope],
    );
    return result.rows.map((row) => ({
      schedule: row.schedule,
      cursor: row.cursor,
      skipped: Number(row.skipped),
      lastEnqueued: row.last ?? undefined,
      pending: Number(row.pending),
    }));
  }
}
