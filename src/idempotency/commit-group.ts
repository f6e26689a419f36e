import type pg from 'pg';
import { redactText } from '../broker/urls.ts';
import { readyToCommit, type GroupView } from './commit-group-policy.ts';
import { ClaimLostError, IdempotencyStoreError } from './errors.ts';
import type { IdempotencySql } from './postgres-sql.ts';
import type { ClaimResult, IdempotencyTransaction } from './store.ts';

/**
 * One commit group of the PostgreSQL store: a transaction on one pooled
 * connection that several single-job claims share. The keys of the jobs
 * waiting in the group are claimed together (one round trip inserts them
 * all); then each job takes its turn: its handler owns the connection through
 * `tx`, under a savepoint of its own made before its first statement. Turns
 * never interleave: savepoints are a stack, so rolling back one job's
 * savepoint would also undo whatever another job did after it. A job that
 * fails goes back to its savepoint and deletes its key again, alone; the
 * group COMMITs once when no job runs or waits in it, and every job that
 * finished learns then that its effects and its key are durable.
 *
 * Losing the group (its connection drops, a running job outlives its lease,
 * the store closes) destroys the connection, so PostgreSQL rolls back every
 * job of it: each finished or running job gets `ClaimLostError` (nothing is
 * acked as done; all are redelivered), and the jobs still waiting for their
 * turn, whose handlers have not run, are handed back to the store to join
 * another group.
 */

/** What a group needs from its store. */
export interface GroupHost {
  readonly sql: IdempotencySql;
  readonly lockTimeoutMs: number;
  connect(): Promise<pg.PoolClient>;
  /** Returns the connection to the pool; destroyed when its transaction state is unknown. */
  giveBack(client: pg.PoolClient, destroy: boolean): void;
  escapeLiteral(value: string): string;
  /** Jobs that never got their turn here: place them again (or refuse them if the store is closing). */
  rehome(members: GroupMember[]): void;
  ended(group: CommitGroup): void;
  warn(error: Error, what: string): void;
}

/** What the store's duplicate check learns once a job settles: committed (`done`) or not (`free`: another claim may try). */
export type MemberOutcome = 'done' | 'free';

const LOCK_NOT_AVAILABLE = '55P03';

export class CommitGroup implements GroupView {
  readonly openedAt: number;
  jobs = 0;
  runningSince: number | undefined;
  closed = false;
  /** Jobs waiting for their key to be claimed; the store may move them to another group. */
  readonly queue: GroupMember[] = [];
  /** Jobs whose key this transaction holds, waiting for their turn. */
  private readonly claimedWaiting: GroupMember[] = [];
  running: GroupMember | undefined;
  private readonly finished: GroupMember[] = [];
  private client: pg.PoolClient | undefined;
  private isEnded = false;
  private savepoints = 0;
  private readonly onConnectionError = (error: Error): void => this.lose(`its connection failed (${redactText(error.message)})`);

  constructor(
    private readonly host: GroupHost,
    now: number,
  ) {
    this.openedAt = now;
  }

  get queued(): number {
    return this.queue.length + this.claimedWaiting.length;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  add(member: GroupMember): void {
    this.jobs++;
    this.queue.push(member);
    if (this.jobs === 1) {
      // Every failure inside is handled (a job refused or lost); this only keeps a bug from becoming an unhandled rejection.
      this.run().catch((error: unknown) => {
        this.host.warn(error instanceof Error ? error : new Error(String(error)), 'commit group failed');
        this.lose(`its commit group failed (${redactText(errorMessage(error))})`);
      });
    }
  }

  /** Moves the waiting jobs out, e.g. behind a slow job; they have written nothing here. */
  takeQueued(): GroupMember[] {
    return this.queue.splice(0);
  }

  /**
   * Ends the group without committing: the connection is destroyed, so the
   * server rolls back every job of it.
   */
  lose(reason: string, culprit?: GroupMember): void {
    // Only a lease names a culprit: the job that ran too long; the others of the group were collateral.
    const othersReason = culprit === undefined ? reason : `job "${culprit.key}", which shared its transaction, ran past its lease of ${culprit.leaseMs} ms`;
    if (this.isEnded) return;
    this.isEnded = true;
    this.closed = true;
    if (this.client !== undefined) {
      this.client.off('error', this.onConnectionError);
      this.host.giveBack(this.client, true);
    }
    const lost = this.running !== undefined ? [...this.finished, this.running] : this.finished;
    for (const member of lost) {
      member.lose(member === culprit ? reason : othersReason);
    }
    this.running = undefined;
    this.runningSince = undefined;
    // Their keys go with the rolled-back transaction and their handlers have not run: they may claim again elsewhere.
    this.host.rehome([...this.claimedWaiting.splice(0), ...this.takeQueued()]);
    this.host.ended(this);
  }

  private async run(): Promise<void> {
    try {
      this.client = await this.host.connect();
    } catch (error) {
      this.isEnded = true;
      this.closed = true;
      for (const member of this.takeQueued()) member.refuse(error);
      this.host.ended(this);
      return;
    }
    if (this.isEnded) {
      // Lost while connecting (the store closed): nothing was begun on it.
      this.host.giveBack(this.client, false);
      return;
    }
    this.client.on('error', this.onConnectionError);
    while (!readyToCommit(this)) {
      await this.claimWaiting(this.client);
      for (let member = this.claimedWaiting.shift(); member !== undefined; member = this.claimedWaiting.shift()) {
        await this.turn(this.client, member);
        if (this.isEnded) return;
      }
      if (this.isEnded) return;
    }
    // Nothing runs or waits: closing here, in the same tick, keeps a late job from joining a transaction that is committing.
    this.closed = true;
    await this.commit(this.client);
  }

  /**
   * Claims the keys of every job queued now, in one round trip. A key that a
   * transaction elsewhere holds past the lock timeout fails the insert; then
   * each key is claimed on its own, so only that job is `busy`.
   */
  private async claimWaiting(client: pg.PoolClient): Promise<void> {
    const members = this.queue.splice(0);
    if (members.length === 0) return;
    this.runningSince = performance.now();
    try {
      const inserted = await this.insertKeys(client, members);
      if (inserted === undefined) return; // the group was lost meanwhile: the members were handed on
      for (const member of members) {
        if (inserted.has(member.key)) this.claimedWaiting.push(member);
        else member.answer({ status: 'done' }, 'done'); // recorded by a transaction that committed
      }
    } catch (error) {
      if (!(isPgError(error) && error.code === LOCK_NOT_AVAILABLE) || members.length === 1) {
        for (const member of members) {
          if (isPgError(error) && error.code === LOCK_NOT_AVAILABLE) member.answer({ status: 'busy' }, 'free');
          else member.refuse(error);
        }
        return;
      }
      for (const [index, member] of members.entries()) {
        try {
          const inserted = await this.insertKeys(client, [member]);
          if (inserted === undefined) {
            this.host.rehome(members.slice(index + 1));
            return;
          }
          if (inserted.has(member.key)) this.claimedWaiting.push(member);
          else member.answer({ status: 'done' }, 'done');
        } catch (oneError) {
          if (isPgError(oneError) && oneError.code === LOCK_NOT_AVAILABLE) member.answer({ status: 'busy' }, 'free');
          else member.refuse(oneError);
        }
      }
    } finally {
      this.runningSince = undefined;
    }
  }

  /**
   * The keys inserted (undefined if the group was lost meanwhile). On a failed
   * insert the claim's savepoint is rolled back (or the group lost) before
   * the error is thrown.
   */
  private async insertKeys(client: pg.PoolClient, members: GroupMember[]): Promise<Set<string> | undefined> {
    const begin = this.savepoints === 0;
    const savepoint = `warren_claim_${++this.savepoints}`;
    const sql = this.host.sql.groupClaim({
      begin,
      savepoint,
      keyLiterals: members.map((member) => this.host.escapeLiteral(member.key)),
      lockTimeoutMs: this.host.lockTimeoutMs,
      leaseMs: Math.max(...members.map((member) => member.leaseMs)),
    });
    try {
      const results = (await client.query(sql)) as unknown as pg.QueryResult<{ key: string }>[];
      if (this.isEnded) {
        this.host.rehome(members);
        return undefined;
      }
      return new Set(results.find((result) => result.command === 'INSERT')?.rows.map((row) => row.key));
    } catch (error) {
      if (this.isEnded) {
        this.host.rehome(members);
        return undefined;
      }
      if (!(await this.rollbackTo(client, savepoint))) this.lose('could not undo a failed claim');
      throw error;
    }
  }

  /** One job's turn, from its claim returning to the end of its handler (complete, release, failed statement). */
  private async turn(client: pg.PoolClient, member: GroupMember): Promise<void> {
    this.running = member;
    this.runningSince = performance.now();
    await member.start(this, client, `warren_job_${++this.savepoints}`);
    if (this.isEnded) return;
    this.endTurn();
    if (member.state === 'finished') this.finished.push(member);
  }

  private endTurn(): void {
    this.running = undefined;
    this.runningSince = undefined;
  }

  /** Undoes a claim that failed; false if that failed too (the group must then be lost). */
  private async rollbackTo(client: pg.PoolClient, savepoint: string): Promise<boolean> {
    try {
      await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      return true;
    } catch (error) {
      if (!this.isEnded) this.host.warn(error instanceof Error ? error : new Error(String(error)), 'rollback to a savepoint failed');
      return false;
    }
  }

  /**
   * Gives one job up inside the transaction: back to its savepoint (its
   * effects go) and its key deleted, in one round trip; the other jobs of the
   * group stay. Loses the group if that fails.
   */
  async forget(client: pg.PoolClient, member: GroupMember, savepoint: string | undefined): Promise<void> {
    try {
      await client.query(this.host.sql.groupForget({ savepoint, keyLiteral: this.host.escapeLiteral(member.key) }));
    } catch (error) {
      if (this.isEnded) return;
      this.host.warn(error instanceof Error ? error : new Error(String(error)), 'rolling back one job of a commit group failed');
      this.lose('could not roll back one of its jobs');
    }
  }

  private async commit(client: pg.PoolClient): Promise<void> {
    // Left in `finished` during the COMMIT, so that a loss meanwhile (the store closing) reaches them.
    const members = [...this.finished];
    if (members.length === 0) {
      // Only rolled-back, duplicate or busy jobs: nothing to keep.
      const ok = this.savepoints === 0 || (await client.query('ROLLBACK').then(() => true, () => false));
      if (!this.isEnded) this.finish(client, !ok);
      return;
    }
    let failure: string | undefined;
    let destroy = false;
    try {
      const result = await client.query('COMMIT');
      // COMMIT of a transaction a failed statement left aborted answers ROLLBACK, without an error.
      if (result.command !== 'COMMIT') failure = 'a statement in its commit group failed, so PostgreSQL rolled the group back';
    } catch (error) {
      // The connection may have dropped after the server committed: a redelivery will then find the job done.
      failure = `COMMIT failed (${redactText(errorMessage(error))})`;
      destroy = true;
    }
    if (this.isEnded) return; // lost during the COMMIT: every job was told already
    this.finish(client, destroy);
    for (const member of members) {
      if (failure === undefined) member.committed();
      else member.lose(failure);
    }
  }

  private finish(client: pg.PoolClient, destroy: boolean): void {
    this.isEnded = true;
    client.off('error', this.onConnectionError);
    this.host.giveBack(client, destroy);
    this.host.ended(this);
  }
}

/**
 * One job in a commit group: first waiting (`claim()` is still pending, its
 * key claimed or not yet), then running (its handler owns the connection
 * through `tx`), then finished (waiting for the group's COMMIT) or rolled back
 * alone.
 */
export class GroupMember {
  state: 'waiting' | 'running' | 'finished' | 'rolled-back' | 'committed' | 'lost' | 'answered' = 'waiting';
  /** Resolves with what `claim()` answers. */
  readonly claimed: Promise<ClaimResult>;
  private resolveClaim!: (result: ClaimResult) => void;
  private rejectClaim!: (error: unknown) => void;
  private group: CommitGroup | undefined;
  private client: pg.PoolClient | undefined;
  /** Its savepoint's name, and whether it was made: only before the first statement of its handler (a handler without one costs no round trip). */
  private savepoint = '';
  private savepointMade = false;
  private lostReason = '';
  private endTurn: () => void = () => {};
  private settling: Promise<void> | undefined;
  private commitWaiter: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  private outcomeSent = false;

  constructor(
    readonly key: string,
    readonly leaseMs: number,
    private readonly onOutcome: (outcome: MemberOutcome) => void,
  ) {
    this.claimed = new Promise<ClaimResult>((resolve, reject) => {
      this.resolveClaim = resolve;
      this.rejectClaim = reject;
    });
  }

  /** Its turn (its key is claimed): resolves when the turn ends (complete, release, failed statement, or lost). */
  start(group: CommitGroup, client: pg.PoolClient, savepoint: string): Promise<void> {
    this.state = 'running';
    this.group = group;
    this.client = client;
    this.savepoint = savepoint;
    const turnOver = new Promise<void>((resolve) => (this.endTurn = resolve));
    this.resolveClaim(this.result());
    return turnOver;
  }

  /** Answered without a turn: `done`, `busy`. */
  answer(result: ClaimResult, outcome: MemberOutcome): void {
    this.state = 'answered';
    this.resolveClaim(result);
    this.outcome(outcome);
  }

  refuse(error: unknown): void {
    this.state = 'answered';
    this.rejectClaim(error instanceof IdempotencyStoreError ? error : storeError('claim failed', error));
    this.outcome('free');
  }

  committed(): void {
    this.state = 'committed';
    this.outcome('done');
    this.commitWaiter?.resolve();
  }

  lose(reason: string): void {
    if (this.state === 'committed' || this.state === 'rolled-back' || this.state === 'lost') return;
    this.state = 'lost';
    this.lostReason = reason;
    this.outcome('free');
    this.commitWaiter?.reject(new ClaimLostError(this.key, reason));
    this.endTurn();
  }

  private outcome(outcome: MemberOutcome): void {
    if (this.outcomeSent) return;
    this.outcomeSent = true;
    this.onOutcome(outcome);
  }

  private result(): ClaimResult {
    const tx: IdempotencyTransaction = {
      query: async <R>(text: string, values?: unknown[]) => {
        const client = this.client;
        if (this.state !== 'running' || client === undefined) throw this.notOpen();
        try {
          if (!this.savepointMade) {
            this.savepointMade = true;
            await client.query(`SAVEPOINT ${this.savepoint}`);
          }
          const result = await client.query(text, values);
          return { rows: result.rows as R[], rowCount: result.rowCount };
        } catch (error) {
          // A failed statement aborts the whole transaction until its savepoint is rolled back: undo this job alone, now.
          if (this.state === 'running') await this.rollBack('a statement in its transaction failed, so PostgreSQL rolled it back');
          throw error;
        }
      },
    };
    return {
      status: 'claimed',
      tx,
      complete: () => (this.settling ??= this.complete()),
      release: () => (this.settling ??= this.release()),
    };
  }

  private complete(): Promise<void> {
    if (this.state !== 'running') return Promise.reject(this.notOpen());
    this.state = 'finished';
    const committed = new Promise<void>((resolve, reject) => (this.commitWaiter = { resolve, reject }));
    this.endTurn(); // the next job's turn starts; this one waits for the group's COMMIT
    return committed;
  }

  private async release(): Promise<void> {
    if (this.state === 'running') await this.rollBack('');
  }

  /** Back to this job's savepoint and its key deleted: its effects and key go, the rest of the group stays. */
  private async rollBack(lostReason: string): Promise<void> {
    const group = this.group;
    const client = this.client;
    if (group === undefined || client === undefined) return;
    this.state = lostReason === '' ? 'rolled-back' : 'lost';
    this.lostReason = lostReason;
    await group.forget(client, this, this.savepointMade ? this.savepoint : undefined);
    this.outcome('free');
    this.endTurn();
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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function storeError(what: string, error: unknown): IdempotencyStoreError {
  return new IdempotencyStoreError(`postgres idempotency store: ${what}: ${redactText(errorMessage(error))}`, { cause: error });
}
