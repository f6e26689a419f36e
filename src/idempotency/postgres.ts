import pg from 'pg';
import { redactText } from '../broker/urls.ts';
import type { Logger } from '../log.ts';
import { isSlow, place, type CommitGroupLimits } from './commit-group-policy.ts';
import { CommitGroup, errorMessage, GroupMember, storeError, type GroupHost, type MemberOutcome } from './commit-group.ts';
import { ClaimLostError, IdempotencyStoreError } from './errors.ts';
import { assertLease } from './memory.ts';
import { DEFAULT_TABLE, idempotencySql, type IdempotencySql } from './postgres-sql.ts';
import type { BatchClaim, ClaimResult, IdempotencyStore, IdempotencyTransaction } from './store.ts';
import { requireInteger } from '../options.ts';

/**
 * Effect-once through PostgreSQL. A claim is an open transaction that has
 * inserted the job id into a table with a unique key; the handler writes its
 * effects through `tx` in that same transaction, so `complete()` (COMMIT)
 * records the effects and the job id together, and `release()` (ROLLBACK), a
 * killed worker or a dropped connection undoes both. A redelivery after a
 * crash between COMMIT and ack finds the row and is `done`.
 *
 * Single-job claims share transactions (group commit, `commit-group.ts`):
 * concurrent claims join a group, whose waiting keys are inserted together;
 * the jobs then take turns on the group's connection, each under a savepoint
 * of its own; `release()` or a failed statement rolls back to the job's
 * savepoint and deletes its key (that job alone), and `complete()` resolves
 * once the group's one COMMIT made the job durable. Which group a claim joins
 * and when a group stops taking jobs is `commit-group-policy.ts`. Batch
 * claims (`claimBatch`) keep a transaction of their own.
 *
 * A duplicate delivery blocks on the unique index while the first holds its
 * transaction. It waits at most `lockTimeoutMs`: if the holder commits by then
 * the answer is `done`, if it rolls back the duplicate claims it, otherwise
 * it is `busy` (so a duplicate never pins a pool connection and a worker slot
 * for a whole handler run).
 */

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host:port/database`. */
  url: string;
  /** `table` or `schema.table`, created if missing. @defaultValue 'warren_idempotency' */
  table?: string;
  /** How long a duplicate waits for the holder's transaction before `busy`. @defaultValue 100 */
  lockTimeoutMs?: number;
  /**
   * Connections in the pool. Each commit group (and each batch claim) holds
   * one until it commits; more connections mean more jobs running at once
   * and fewer sharing each COMMIT. @defaultValue 10
   */
  poolSize?: number;
  /** Jobs that share one transaction at most, 1 to 64 (1: a transaction per job). @defaultValue 32 */
  groupCommitMaxJobs?: number;
  /**
   * A group takes jobs for this long after it opened; a job running longer
   * than this sends the jobs queued behind it to another group. @defaultValue 10
   */
  groupCommitMaxWaitMs?: number;
  /** Where connection trouble is reported. @defaultValue none (errors still reach the caller) */
  logger?: Logger;
}

export type ResolvedPostgresStoreOptions = Required<Omit<PostgresStoreOptions, 'logger'>> & Pick<PostgresStoreOptions, 'logger'>;

export const POSTGRES_STORE_DEFAULTS = { table: DEFAULT_TABLE, lockTimeoutMs: 100, poolSize: 10, groupCommitMaxJobs: 32, groupCommitMaxWaitMs: 10 } as const;

/** PostgreSQL keeps 64 subtransactions per backend in shared memory; a bigger group would slow every snapshot on the server. */
const MAX_GROUP_JOBS = 64;
/** Leases are checked at least this often (and slow jobs every `groupCommitMaxWaitMs`). */
const SWEEP_MAX_MS = 50;
/** See `CommitGroupLimits.queueBeforeNewGroup`. */
const QUEUE_BEFORE_NEW_GROUP = 4;

export function resolvePostgresStoreOptions(options: PostgresStoreOptions): ResolvedPostgresStoreOptions {
  const resolved = {
    url: options.url,
    table: options.table ?? POSTGRES_STORE_DEFAULTS.table,
    lockTimeoutMs: options.lockTimeoutMs ?? POSTGRES_STORE_DEFAULTS.lockTimeoutMs,
    poolSize: options.poolSize ?? POSTGRES_STORE_DEFAULTS.poolSize,
    groupCommitMaxJobs: options.groupCommitMaxJobs ?? POSTGRES_STORE_DEFAULTS.groupCommitMaxJobs,
    groupCommitMaxWaitMs: options.groupCommitMaxWaitMs ?? POSTGRES_STORE_DEFAULTS.groupCommitMaxWaitMs,
    logger: options.logger,
  };
  requireInteger('lockTimeoutMs', resolved.lockTimeoutMs, 1);
  requireInteger('poolSize', resolved.poolSize, 1);
  requireInteger('groupCommitMaxJobs', resolved.groupCommitMaxJobs, 1, MAX_GROUP_JOBS);
  requireInteger('groupCommitMaxWaitMs', resolved.groupCommitMaxWaitMs, 1);
  return resolved;
}

const LOCK_NOT_AVAILABLE = '55P03';

export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly kind = 'postgres';
  readonly options: ResolvedPostgresStoreOptions;
  private readonly sql: IdempotencySql;
  private readonly pool: pg.Pool;
  private readying: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private isClosed = false;
  /** Batch claims not yet settled, so that close() can roll them back instead of waiting out their leases. */
  private readonly open = new Set<PostgresClaim>();
  /** Commit groups not yet ended (opening, running jobs, or committing). */
  private readonly groups: CommitGroup[] = [];
  /** Keys claimed here and not settled yet: a duplicate waits for them here (it could land in the same transaction, where the unique index would not stop it). */
  private readonly held = new Map<string, KeyHold>();
  private readonly limits: CommitGroupLimits;
  private readonly host: GroupHost;
  /** One timer for every group: slow jobs and leases (instead of a timer per job). */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: PostgresStoreOptions) {
    this.options = resolvePostgresStoreOptions(options);
    this.sql = idempotencySql(this.options.table);
    this.pool = new pg.Pool({ connectionString: this.options.url, max: this.options.poolSize });
    this.pool.on('error', (error) => this.warn(error, 'idle connection error'));
    this.limits = {
      maxJobs: this.options.groupCommitMaxJobs,
      maxWaitMs: this.options.groupCommitMaxWaitMs,
      maxGroups: this.options.poolSize,
      queueBeforeNewGroup: QUEUE_BEFORE_NEW_GROUP,
    };
    this.host = {
      sql: this.sql,
      lockTimeoutMs: this.options.lockTimeoutMs,
      connect: () =>
        this.pool.connect().catch((error: unknown) => {
          throw storeError('cannot connect', error);
        }),
      giveBack: (client, destroy) => client.release(destroy),
      escapeLiteral: (value) => pg.escapeLiteral(value),
      rehome: (members) => {
        for (const member of members) {
          if (this.isClosed) member.refuse(new IdempotencyStoreError('postgres idempotency store: the store was closed'));
          else this.join(member);
        }
      },
      ended: (group) => {
        const at = this.groups.indexOf(group);
        if (at >= 0) this.groups.splice(at, 1);
        if (this.groups.length === 0 && this.sweeper !== undefined) {
          clearInterval(this.sweeper);
          this.sweeper = undefined;
        }
      },
      warn: (error, what) => this.warn(error, what),
    };
  }

  /** Creates the table if missing. Called by the first claim; call it at start-up to fail early. */
  ready(): Promise<void> {
    this.readying ??= this.createTable().catch((error: unknown) => {
      this.readying = undefined; // let a later call try again
      throw storeError('cannot create the idempotency table', error);
    });
    return this.readying;
  }

  async claim(key: string, leaseMs: number): Promise<ClaimResult> {
    assertLease(leaseMs);
    if (this.isClosed) throw new IdempotencyStoreError('postgres idempotency store: the store was closed');
    // A duplicate of a key claimed here waits for that claim, as long as it would wait on the unique index.
    const giveUpAt = performance.now() + this.options.lockTimeoutMs;
    for (let hold = this.held.get(key); hold !== undefined; hold = this.held.get(key)) {
      const outcome = await hold.settled(giveUpAt - performance.now());
      if (outcome === 'done') return { status: 'done' };
      if (outcome === 'pending') return { status: 'busy' };
    }
    const hold = new KeyHold();
    this.held.set(key, hold);
    const member = new GroupMember(key, Math.ceil(leaseMs), (outcome) => {
      if (this.held.get(key) === hold) this.held.delete(key);
      hold.settle(outcome);
    });
    try {
      await this.ready();
    } catch (error) {
      member.refuse(error);
      return member.claimed;
    }
    this.join(member);
    return member.claimed;
  }

  /** Puts a job into the group the policy picks (opening one if need be). */
  private join(member: GroupMember): void {
    const now = performance.now();
    const choice = place(this.groups, this.limits, now);
    let group: CommitGroup;
    if (choice === 'new') {
      group = new CommitGroup(this.host, now);
      this.groups.push(group);
      this.sweeper ??= setInterval(() => this.sweep(), Math.min(this.limits.maxWaitMs, SWEEP_MAX_MS));
      this.sweeper.unref();
    } else {
      group = this.groups[choice] as CommitGroup;
    }
    group.add(member);
  }

  /**
   * A running job past its lease loses its group (the connection is
   * destroyed, so every job of the group rolls back and is redelivered: a
   * frozen job cannot hold the others' COMMIT for longer than its lease). A
   * running job past `groupCommitMaxWaitMs` only closes its group to new jobs
   * and sends those waiting behind it to other groups.
   */
  private sweep(): void {
    const now = performance.now();
    for (const group of [...this.groups]) {
      const running = group.running;
      if (running === undefined || group.runningSince === undefined) continue;
      if (now - group.runningSince >= running.leaseMs) {
        group.lose(`its lease of ${running.leaseMs} ms ran out`, running);
      } else if (isSlow(group, this.limits, now)) {
        group.closed = true;
        this.host.rehome(group.takeQueued());
      }
    }
  }

  /**
   * Claims a batch in one transaction: one multi-row insert records every new
   * key (a key recorded before is `done`). If a key is held by another open
   * transaction past the lock timeout, the batch falls back to one insert per
   * key under a savepoint, so only that key is `busy` and the rest are ours.
   */
  async claimBatch(keys: readonly string[], leaseMs: number): Promise<BatchClaim> {
    assertLease(leaseMs);
    if (new Set(keys).size !== keys.length) throw new RangeError('claimBatch: keys must be distinct');
    await this.ready();
    const client = await this.pool.connect().catch((error: unknown) => {
      throw storeError('cannot connect', error);
    });
    const onError = (error: Error): void => this.warn(error, 'connection error during a batch claim');
    client.on('error', onError);
    const giveBack = (destroy: boolean): void => {
      client.off('error', onError);
      client.release(destroy);
    };
    const statuses = new Map<string, 'claimed' | 'done' | 'busy'>();
    try {
      await client.query('BEGIN');
      const timeouts = await client.query<{ previous: string }>(this.sql.setTimeouts, [`${this.options.lockTimeoutMs}ms`, `${Math.ceil(leaseMs)}ms`]);
      await client.query('SAVEPOINT warren_batch');
      try {
        const inserted = await client.query<{ key: string }>(this.sql.insertKeys, [keys]);
        const claimed = new Set(inserted.rows.map((row) => row.key));
        for (const key of keys) statuses.set(key, claimed.has(key) ? 'claimed' : 'done');
      } catch (error) {
        if (!isPgError(error) || error.code !== LOCK_NOT_AVAILABLE) throw error;
        await client.query('ROLLBACK TO SAVEPOINT warren_batch');
        for (const key of keys) statuses.set(key, await this.insertOne(client, key));
      }
      await client.query(this.sql.restoreLockTimeout, [timeouts.rows[0]?.previous ?? '0']);
    } catch (error) {
      giveBack(true);
      throw storeError('batch claim failed', error);
    }
    const claimedKeys = keys.filter((key) => statuses.get(key) === 'claimed');
    if (claimedKeys.length === 0) {
      await client.query('ROLLBACK').then(() => giveBack(false), () => giveBack(true));
      return { statuses, complete: async () => undefined, release: async () => undefined };
    }
    const label = claimedKeys.length === 1 ? (claimedKeys[0] as string) : `${claimedKeys[0]} and ${claimedKeys.length - 1} more`;
    const claim = this.track(new PostgresClaim(label, client, giveBack, Math.ceil(leaseMs)));
    if (claim.status !== 'claimed' || claim.tx === undefined) throw new IdempotencyStoreError('unreachable: a tracked claim is claimed');
    const { tx } = claim;
    return {
      statuses,
      tx,
      complete: async (failed) => {
        // The failed jobs' records go again inside the transaction, so they commit as never done.
        const forget = failed.filter((key) => statuses.get(key) === 'claimed');
        if (forget.length > 0) {
          try {
            await tx.query(this.sql.deleteKeys, [forget]);
          } catch (error) {
            await claim.release();
            throw error;
          }
        }
        await claim.complete();
      },
      release: () => claim.release(),
    };
  }

  /** One key inside a batch's transaction, under its own savepoint. */
  private async insertOne(client: pg.PoolClient, key: string): Promise<'claimed' | 'done' | 'busy'> {
    await client.query('SAVEPOINT warren_key');
    try {
      const inserted = await client.query(this.sql.insertKey, [key]);
      await client.query('RELEASE SAVEPOINT warren_key');
      return inserted.rowCount === 1 ? 'claimed' : 'done';
    } catch (error) {
      if (!isPgError(error) || error.code !== LOCK_NOT_AVAILABLE) throw error;
      await client.query('ROLLBACK TO SAVEPOINT warren_key');
      return 'busy';
    }
  }

  /** Deletes the records of jobs done more than `ageMs` ago; those job ids can run again. Returns how many went. */
  async purgeOlderThan(ageMs: number): Promise<number> {
    if (!Number.isFinite(ageMs) || ageMs < 0) throw new RangeError(`ageMs must be a non-negative number, got ${ageMs}`);
    await this.ready();
    const result = await this.pool.query(this.sql.purgeOlderThan, [ageMs]).catch((error: unknown) => {
      throw storeError('purge failed', error);
    });
    return result.rowCount ?? 0;
  }

  /** Rolls back the claims still open (their jobs become claimable elsewhere at once), then closes the pool. */
  close(): Promise<void> {
    this.isClosed = true;
    this.closing ??= (async () => {
      for (const claim of this.open) claim.abandon('the store was closed');
      for (const group of [...this.groups]) group.lose('the store was closed');
      await this.pool.end();
    })();
    return this.closing;
  }

  private track(claim: PostgresClaim): ClaimResult {
    this.open.add(claim);
    claim.onSettled = () => this.open.delete(claim);
    return claim.result();
  }

  private async createTable(): Promise<void> {
    const existing = await this.pool.query<{ exists: boolean }>(this.sql.tableExists);
    if (existing.rows[0]?.exists === true) return;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const statement of this.sql.createTable) await client.query(statement);
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      client.release(true);
      throw error;
    }
  }

  private warn(error: Error, what: string): void {
    this.options.logger?.warn({ err: redactText(error.message) }, `idempotency store: postgres ${what}`);
  }
}

/**
 * One claimed job: its client inside the transaction, a lease timer, and the
 * two ways out. Once the lease runs out or the connection drops, the claim is
 * lost: the connection is destroyed (PostgreSQL rolls back), `tx` refuses
 * further statements and `complete()` throws `ClaimLostError`.
 */
class PostgresClaim {
  private state: 'open' | 'settled' | 'lost' = 'open';
  private lostReason = '';
  private settling: Promise<void> | undefined;
  private returned = false;
  private readonly leaseTimer: NodeJS.Timeout;
  private readonly onConnectionError = (error: Error): void => this.lose(`its connection failed (${redactText(error.message)})`);
  /** Called once the client is back in the pool. */
  onSettled: () => void = () => {};

  constructor(
    private readonly key: string,
    private readonly client: pg.PoolClient,
    private readonly returnClient: (destroy: boolean) => void,
    leaseMs: number,
  ) {
    this.leaseTimer = setTimeout(() => this.lose(`its lease of ${leaseMs} ms ran out`), leaseMs);
    this.leaseTimer.unref();
    client.on('error', this.onConnectionError);
  }

  result(): ClaimResult {
    const tx: IdempotencyTransaction = {
      query: async <R>(text: string, values?: unknown[]) => {
        if (this.state !== 'open') throw this.notOpen();
        const result = await this.client.query(text, values);
        return { rows: result.rows as R[], rowCount: result.rowCount };
      },
    };
    return {
      status: 'claimed',
      tx,
      complete: () => (this.settling ??= this.commit()),
      release: () => (this.settling ??= this.rollback()),
    };
  }

  private async commit(): Promise<void> {
    if (this.state === 'lost') throw this.notOpen();
    this.finish();
    try {
      const result = await this.client.query('COMMIT');
      // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
      if (result.command !== 'COMMIT') {
        this.giveBack(false);
        throw new ClaimLostError(this.key, 'a statement in its transaction failed, so PostgreSQL rolled it back');
      }
      this.giveBack(false);
    } catch (error) {
      if (error instanceof ClaimLostError) throw error;
      this.giveBack(true);
      // The connection may have dropped after the server committed: a redelivery will then find the job done.
      throw new ClaimLostError(this.key, `COMMIT failed (${redactText(errorMessage(error))})`, { cause: error });
    }
  }

  private async rollback(): Promise<void> {
    if (this.state === 'lost') return; // already rolled back by the server
    this.finish();
    await this.client.query('ROLLBACK').then(
      () => this.giveBack(false),
      () => this.giveBack(true), // a broken connection: dropping it rolls back just the same
    );
  }

  private finish(): void {
    this.state = 'settled';
    clearTimeout(this.leaseTimer);
  }

  private lose(reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'lost';
    this.lostReason = reason;
    clearTimeout(this.leaseTimer);
    this.giveBack(true); // destroys the connection: the server rolls the transaction back
  }

  /** Back to the pool exactly once (destroyed when its state is unknown). */
  private giveBack(destroy: boolean): void {
    if (this.returned) return;
    this.returned = true;
    this.client.off('error', this.onConnectionError);
    this.returnClient(destroy);
    this.onSettled();
  }

  /** Gives the claim up without waiting for its holder; its transaction is rolled back. */
  abandon(reason: string): void {
    this.lose(reason);
  }

  private notOpen(): Error {
    return this.state === 'lost'
      ? new ClaimLostError(this.key, this.lostReason)
      : new IdempotencyStoreError(`the transaction of job "${this.key}" is already settled`);
  }
}

function isPgError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

/** A key claimed in this store and not settled yet, for the duplicates that wait on it. */
class KeyHold {
  private outcome: MemberOutcome | undefined;
  private readonly waiters: ((outcome: MemberOutcome) => void)[] = [];

  settle(outcome: MemberOutcome): void {
    this.outcome = outcome;
    for (const wake of this.waiters.splice(0)) wake(outcome);
  }

  /** How the holder settled, or 'pending' if it had not within `waitMs`. */
  settled(waitMs: number): Promise<MemberOutcome | 'pending'> {
    if (this.outcome !== undefined) return Promise.resolve(this.outcome);
    if (waitMs <= 0) return Promise.resolve('pending');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(wake);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve('pending');
      }, waitMs);
      const wake = (outcome: MemberOutcome): void => {
        clearTimeout(timer);
        resolve(outcome);
      };
      this.waiters.push(wake);
    });
  }
}
