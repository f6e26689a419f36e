/**
 * Idempotency guards: claim-then-act, never check-then-act. A worker claims a
 * job id before running its handler; two deliveries of the same id (a
 * redelivery after a crash, or a duplicate publish) never run the handler at
 * the same time, and a job already done is acked without running.
 */

/** What a store-specific transaction gives a handler (PostgreSQL: a client inside BEGIN). */
export interface IdempotencyTransaction {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export type ClaimResult =
  /** Ours to run. Call exactly one of `complete` or `release`. */
  | {
      status: 'claimed';
      /** Set by stores whose effects can commit atomically with the dedup record. */
      tx?: IdempotencyTransaction;
      /**
       * Records the job as done (commits `tx` when there is one). Throws
       * `ClaimLostError` when the claim was lost first (PostgreSQL: lease ran
       * out, connection dropped, or a statement aborted `tx`): the effects were
       * rolled back, so the delivery must not be acked as done.
       */
      complete(): Promise<void>;
      /** Gives the claim up so a later delivery can run it (rolls back `tx`). */
      release(): Promise<void>;
    }
  /** Already done: ack without running. */
  | { status: 'done' }
  /** Another delivery holds a live claim right now. */
  | { status: 'busy' };

/** The claim of a whole batch of job ids (see `IdempotencyStore.claimBatch`). */
export interface BatchClaim {
  /** One entry per key asked for: `claimed` (ours to run), `done` (skip, ack) or `busy` (held elsewhere). */
  readonly statuses: ReadonlyMap<string, 'claimed' | 'done' | 'busy'>;
  /** The one transaction every claimed key was recorded in (PostgreSQL). */
  readonly tx?: IdempotencyTransaction;
  /**
   * Records the claimed keys as done except `failed` ones, whose claims are
   * given up; with a transaction that is one COMMIT. Throws `ClaimLostError`
   * (nothing was recorded) like `complete()`.
   */
  complete(failed: readonly string[]): Promise<void>;
  /** Gives every claim up (rolls the transaction back). */
  release(): Promise<void>;
}

export interface IdempotencyStore {
  readonly kind: 'memory' | 'redis' | 'postgres';
  /**
   * Claims `key` for `leaseMs`. A claim whose holder died (process killed)
   * becomes claimable again once its lease runs out (Redis), or at once when
   * its connection drops (PostgreSQL).
   */
  claim(key: string, leaseMs: number): Promise<ClaimResult>;
  /**
   * Claims many keys at once, in one transaction where the store has them
   * (PostgreSQL: one round trip for the whole batch). Optional: batch
   * workers fall back to one `claim` per key, issued together.
   */
  claimBatch?(keys: readonly string[], leaseMs: number): Promise<BatchClaim>;
  close(): Promise<void>;
}
