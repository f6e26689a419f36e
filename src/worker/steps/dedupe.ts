import type { IdempotencyStore } from '../../idempotency/store.ts';
import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { ClaimBusyError, ReleasedError } from '../errors.ts';
import { sleep } from '../sleep.ts';

export interface DedupeOptions {
  store: IdempotencyStore;
  /** Keys are per consumer: the same job is handled once by each consumer. */
  consumer: string;
  leaseMs: number;
  /** Between re-tries of a busy claim. */
  pollMs: number;
  /** Aborted on shutdown: stop waiting for a busy claim. */
  signal: AbortSignal;
}

/**
 * Claim-then-act. A job already done is skipped (and acked by settle); a
 * job claimed by another delivery is waited for up to one lease, never run
 * alongside it. On success the claim is completed before settle acks; on
 * failure it is released so a later attempt can claim it.
 */
export function dedupeStep(options: DedupeOptions): Step<JobState> {
  return async (ctx, next) => {
    const key = `${options.consumer}:${ctx.jobId}`;
    const claim = await claimWhenFree(options, key);
    if (claim.status === 'done') {
      ctx.duplicate = true;
      return;
    }
    ctx.tx = claim.tx;
    try {
      await next();
    } catch (error) {
      await claim.release().catch((releaseError: unknown) => ctx.logger.warn({ err: releaseError }, 'releasing the claim failed'));
      throw error;
    } finally {
      ctx.tx = undefined;
    }
    await claim.complete();
  };
}

async function claimWhenFree(options: DedupeOptions, key: string) {
  const giveUpAt = Date.now() + options.leaseMs + options.pollMs;
  for (;;) {
    const claim = await options.store.claim(key, options.leaseMs);
    if (claim.status !== 'busy') return claim;
    if (options.signal.aborted) throw new ReleasedError();
    // Past one lease the holder is alive and still busy (or stuck): retry later.
    if (Date.now() >= giveUpAt) throw new ClaimBusyError(key);
    await sleep(options.pollMs, options.signal).catch(() => undefined);
  }
}
