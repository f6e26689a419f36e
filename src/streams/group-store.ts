import pg from 'pg';
import { checkoutClient, type CheckedOutClient } from '../postgres/checkout.ts';
import { rebalance, type Ownership, type PartitionState } from './assignment.ts';
import { FencedError } from './errors.ts';

/**
 * Consumer-group membership and offsets in PostgreSQL (RabbitMQ 3.10 keeps
 * no offsets for AMQP consumers and has no single-active-consumer for
 * streams). Two tables, created if missing:
 *
 * - `<prefix>stream_members (stream, grp, member, heartbeat_at)`: live
 *   members; a member whose heartbeat is older than the session timeout
 *   (by the database's clock, so members' clocks do not matter) is removed
 *   by the next rebalance.
 * - `<prefix>stream_offsets (stream, grp, partition, committed_offset,
 *   owner, generation)`: per partition, the offset of the LAST record the
 *   group has applied (NULL = none yet), who owns it and since which
 *   generation. A commit is `UPDATE … WHERE owner = me AND generation = g`:
 *   zero rows means the partition moved on, and the transaction is rolled
 *   back (fencing).
 */

export interface GroupStoreOptions {
  url: string;
  /** Table name prefix (e.g. a schema `myschema.` or `test_x_`). @defaultValue 'warren_' */
  tablePrefix?: string;
  /** @defaultValue 10 */
  poolSize?: number;
  /**
   * How long a member's transaction may sit idle while it holds the group's
   * locks (the rebalance's advisory lock, a partition row between the offset
   * UPDATE and COMMIT) before PostgreSQL aborts it. A paused or stuck member
   * then cannot block the rest of its group. @defaultValue 10_000
   */
  lockHoldLimitMs?: number;
}

export interface GroupKey {
  stream: string;
  group: string;
}

export interface OwnedPartition {
  partition: number;
  generation: number;
  /** Offset of the last record applied, or null. */
  committed: number | null;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*\.?[A-Za-z0-9_]*$/;

export class GroupStore {
  readonly pool: pg.Pool;
  private readonly members: string;
  private readonly offsets: string;
  private readying: Promise<void> | undefined;
  private readonly lockHoldLimit: string;

  constructor(options: GroupStoreOptions) {
    this.lockHoldLimit = String(Math.max(100, Math.round(options.lockHoldLimitMs ?? 10_000)));
    const prefix = options.tablePrefix ?? 'warren_';
    if (!IDENTIFIER.test(`${prefix}x`)) throw new Error(`tablePrefix ${JSON.stringify(prefix)} must be letters, digits, _ (and one schema dot)`);
    this.members = `${prefix}stream_members`;
    this.offsets = `${prefix}stream_offsets`;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    this.pool.on('error', () => undefined);
  }

  /** Creates the tables if missing. */
  ready(): Promise<void> {
    this.readying ??= (async () => {
      const { client, release } = await this.checkout();
      try {
        // Serialised: concurrent CREATE TABLE IF NOT EXISTS can still race on the type catalog.
        await client.query('BEGIN');
        await client.query("SELECT pg_advisory_xact_lock(hashtext('warren stream tables'))");
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.members} (stream text NOT NULL, grp text NOT NULL, member text NOT NULL,
             heartbeat_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (stream, grp, member))`,
        );
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.offsets} (stream text NOT NULL, grp text NOT NULL, partition int NOT NULL,
             committed_offset bigint, owner text, generation bigint NOT NULL DEFAULT 0, updated_at timestamptz,
             PRIMARY KEY (stream, grp, partition))`,
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        this.readying = undefined;
        throw error;
      } finally {
        release();
      }
    })();
    return this.readying;
  }

  /** The group's partition rows exist (a new group starts with no offsets). */
  async ensureGroup(key: GroupKey, partitions: number): Promise<void> {
    await this.ready();
    await this.pool.query(
      `INSERT INTO ${this.offsets} (stream, grp, partition) SELECT $1, $2, p FROM generate_series(0, $3 - 1) AS p ON CONFLICT DO NOTHING`,
      [key.stream, key.group, partitions],
    );
  }

  /** Records that `member` is alive (re-joins a member that was expired). */
  async heartbeat(key: GroupKey, member: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.members} (stream, grp, member) VALUES ($1, $2, $3)
       ON CONFLICT (stream, grp, member) DO UPDATE SET heartbeat_at = now()`,
      [key.stream, key.group, member],
    );
  }

  /**
   * Expires members silent for `sessionTimeoutMs`, then moves partitions so
   * they match the assignment over the live members (each move bumps the
   * generation). One rebalance at a time per group (advisory lock). Returns
   * the partitions `member` owns afterwards, with their committed offsets —
   * read after the move, so they include every commit the previous owner made.
   */
  async rebalance(key: GroupKey, member: string, sessionTimeoutMs: number): Promise<OwnedPartition[]> {
    const { client, release } = await this.checkout();
    try {
      await client.query('BEGIN');
      await this.limitLockHold(client);
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.offsets}/${key.stream}/${key.group}`]);
      await client.query(`DELETE FROM ${this.members} WHERE stream = $1 AND grp = $2 AND heartbeat_at < now() - make_interval(secs => $3)`, [
        key.stream,
        key.group,
        sessionTimeoutMs / 1000,
      ]);
      const live = await client.query<{ member: string }>(`SELECT member FROM ${this.members} WHERE stream = $1 AND grp = $2`, [key.stream, key.group]);
      const rows = await client.query<{ partition: number; owner: string | null; generation: string }>(
        `SELECT partition, owner, generation FROM ${this.offsets} WHERE stream = $1 AND grp = $2 ORDER BY partition`,
        [key.stream, key.group],
      );
      const changes = rebalance(
        rows.rows.map((row) => ({ partition: row.partition, owner: row.owner, generation: Number(row.generation) })),
        live.rows.map((row) => row.member),
      );
      for (const change of changes) {
        await client.query(`UPDATE ${this.offsets} SET owner = $4, generation = $5 WHERE stream = $1 AND grp = $2 AND partition = $3`, [
          key.stream,
          key.group,
          change.partition,
          change.owner,
          change.generation,
        ]);
      }
      const owned = await client.query<{ partition: number; generation: string; committed_offset: string | null }>(
        `SELECT partition, generation, committed_offset FROM ${this.offsets} WHERE stream = $1 AND grp = $2 AND owner = $3 ORDER BY partition`,
        [key.stream, key.group, member],
      );
      await client.query('COMMIT');
      return owned.rows.map((row) => ({
        partition: row.partition,
        generation: Number(row.generation),
        committed: row.committed_offset === null ? null : Number(row.committed_offset),
      }));
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      release();
    }
  }

  /**
   * A pool client for a transaction. While a member is paused (GC, SIGSTOP,
   * a frozen VM) PostgreSQL can end its session — the lock-hold limit is
   * there to do exactly that — and the client must then fail the
   * transaction, not crash the process (see checkoutClient).
   */
  checkout(): Promise<CheckedOutClient> {
    return checkoutClient(this.pool);
  }

  /** Removes `member` (a clean leave) and rebalances at once, so the others need not wait for its session to expire. */
  async leave(key: GroupKey, member: string, sessionTimeoutMs: number): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.members} WHERE stream = $1 AND grp = $2 AND member = $3`, [key.stream, key.group, member]);
    await this.rebalance(key, member, sessionTimeoutMs);
  }

  /**
   * Inside the caller's transaction: the group's offset for `partition`
   * becomes `offset`, only if `member` still owns it at `generation`.
   * Throws `FencedError` otherwise (the caller rolls back).
   */
  async commitIn(client: pg.ClientBase, key: GroupKey, member: string, partition: number, generation: number, offset: number): Promise<void> {
    // The lock-hold limit is set in the same statement (one round trip less per batch): set_config
    // runs for the matching row, and without one the transaction is rolled back anyway.
    const result = await client.query(
      `UPDATE ${this.offsets} SET committed_offset = $6, updated_at = now()
       WHERE stream = $1 AND grp = $2 AND partition = $3 AND owner = $4 AND generation = $5
         AND set_config('idle_in_transaction_session_timeout', $7, true) IS NOT NULL`,
      [key.stream, key.group, partition, member, generation, offset, this.lockHoldLimit],
    );
    if (result.rowCount !== 1) throw new FencedError(key.stream, key.group, partition, generation);
  }

  /** For the rest of the current transaction: PostgreSQL aborts it if it idles longer than the limit (releasing its locks). */
  private async limitLockHold(client: pg.ClientBase): Promise<void> {
    await client.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [this.lockHoldLimit]);
  }

  /** Every partition row of a group (for status, lag and reset). */
  async partitions(key: GroupKey): Promise<PartitionState[]> {
    await this.ready();
    const result = await this.pool.query<{ partition: number; owner: string | null; generation: string; committed_offset: string | null; updated_at: Date | null }>(
      `SELECT partition, owner, generation, committed_offset, updated_at FROM ${this.offsets} WHERE stream = $1 AND grp = $2 ORDER BY partition`,
      [key.stream, key.group],
    );
    return result.rows.map((row) => ({
      partition: row.partition,
      owner: row.owner,
      generation: Number(row.generation),
      committed: row.committed_offset === null ? null : Number(row.committed_offset),
      updatedAt: row.updated_at,
    }));
  }

  /** The groups that have rows for `stream`. */
  async groups(stream: string): Promise<string[]> {
    await this.ready();
    const result = await this.pool.query<{ grp: string }>(`SELECT DISTINCT grp FROM ${this.offsets} WHERE stream = $1 ORDER BY grp`, [stream]);
    return result.rows.map((row) => row.grp);
  }

  /** Live members of a group, with their last heartbeat. */
  async liveMembers(key: GroupKey): Promise<Array<{ member: string; heartbeatAt: Date; heartbeatAgeMs: number }>> {
    await this.ready();
    // The age by the database's clock, the one heartbeats and expiry use.
    const result = await this.pool.query<{ member: string; heartbeat_at: Date; age_ms: string }>(
      `SELECT member, heartbeat_at, extract(epoch FROM now() - heartbeat_at) * 1000 AS age_ms FROM ${this.members} WHERE stream = $1 AND grp = $2 ORDER BY member`,
      [key.stream, key.group],
    );
    return result.rows.map((row) => ({ member: row.member, heartbeatAt: row.heartbeat_at, heartbeatAgeMs: Math.max(0, Math.round(Number(row.age_ms))) }));
  }

  /**
   * Sets a partition's committed offset (reset/replay) and bumps its
   * generation, so the owner's next commit is fenced and it re-reads from
   * the new position on its next rebalance.
   */
  async setCommitted(key: GroupKey, partition: number, committed: number | null): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.offsets} SET committed_offset = $4, generation = generation + 1, owner = NULL, updated_at = now()
       WHERE stream = $1 AND grp = $2 AND partition = $3`,
      [key.stream, key.group, partition, committed],
    );
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
