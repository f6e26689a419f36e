import pg from 'pg';
import { redactText } from '../broker/urls.ts';
import type { Logger } from '../log.ts';
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
  /** Connections in the pool; every claim holds one until settled, so at least the worker's concurrency. @defaultValue 10 */
  poolSize?: number;
  /** Where connection trouble is reported. @defaultValue none (errors still reach the caller) */
  logger?: Logger;
}

export type ResolvedPostgresStoreOptions = Required<Omit<PostgresStoreOptions, 'logger'>> & Pick<PostgresStoreOptions, 'logger'>;

export const POSTGRES_STORE_DEFAULTS = { table: DEFAULT_TABLE, lockTimeoutMs: 100, poolSize: 10 } as const;

export function resolvePostgresStoreOptions(options: PostgresStoreOptions): ResolvedPostgresStoreOptions {
  const resolved = {
    url: options.url,
    table: options.table ?? POSTGRES_STORE_DEFAULTS.table,
    lockTimeoutMs: options.lockTimeoutMs ?? POSTGRES_STORE_DEFAULTS.lockTimeoutMs,
    poolSize: options.poolSize ?? POSTGRES_STORE_DEFAULTS.poolSize,
    logger: options.logger,
  };
  requireInteger('lockTimeoutMs', resolved.lockTimeoutMs, 1);
  requireInteger('poolSize', resolved.poolSize, 1);
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
  /** Claims not yet settled, so that close() can roll them back instead of waiting out their leases. */
  private readonly open = new Set<PostgresClaim>();

  constructor(options: PostgresStoreOptions) {
    this.options = resolvePostgresStoreOptions(options);
    this.sql = idempotencySql(this.options.table);
    this.pool = new pg.Pool({ connectionString: this.options.url, max: this.options.poolSize });
    this.pool.on('error', (error) => this.warn(error, 'idle connection error'));
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
    await this.ready();
    const client = await this.pool.connect().catch((error: unknown) => {
      throw storeError('cannot connect', error);
    });
    const onError = (error: Error): void => this.warn(error, 'connection error during a claim');
    client.on('error', onError);
    const giveBack = (destroy: boolean): void => {
      client.off('error', onError);
      client.release(destroy);
    };
    try {
      const inserted = await this.insertKey(client, key, Math.ceil(leaseMs));
      if (inserted) return this.track(new PostgresClaim(key, client, giveBack, Math.ceil(leaseMs)));
      await client.query('ROLLBACK');
      giveBack(false);
      return { status: 'done' };
    } catch (error) {
      if (isPgError(error) && error.code === LOCK_NOT_AVAILABLE) {
        await client.query('ROLLBACK').then(() => giveBack(false), () => giveBack(true));
        return { status: 'busy' };
      }
      giveBack(true);
      throw storeError('claim failed', error);
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
    this.closing ??= (async () => {
      for (const claim of this.open) claim.abandon('the store was closed');
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

  /**
   * BEGIN, then the insert under a short lock timeout (put back afterwards, so
   * the handler's own statements keep the usual one). The idle-in-transaction
   * timeout is a server-side lease: a frozen worker's transaction is ended.
   */
  private async insertKey(client: pg.PoolClient, key: string, leaseMs: number): Promise<boolean> {
    await client.query('BEGIN');
    const timeouts = await client.query<{ previous: string }>(this.sql.setTimeouts, [`${this.options.lockTimeoutMs}ms`, `${leaseMs}ms`]);
    const inserted = await client.query(this.sql.insertKey, [key]);
    await client.query(this.sql.restoreLockTimeout, [timeouts.rows[0]?.previous ?? '0']);
    return inserted.rowCount === 1;
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function storeError(what: string, error: unknown): IdempotencyStoreError {
  return new IdempotencyStoreError(`postgres idempotency store: ${what}: ${redactText(errorMessage(error))}`, { cause: error });
}
