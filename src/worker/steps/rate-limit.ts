import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { ReleasedError } from '../errors.ts';
import type { RateLimiter } from '../rate-limiter.ts';
import { sleep } from '../sleep.ts';

export interface RateLimitOptions {
  limiter: RateLimiter;
  /** Aborted on shutdown: a job still waiting for its slot is released (requeued), not run. */
  signal: AbortSignal;
  /** Wait before asking a limiter that failed (Redis down) again; the job keeps waiting meanwhile. */
  retryMs: number;
}

/**
 * Waits for the job's slot before the rest of the pipeline runs. The job
 * waits (it is not failed, nor sent to a retry tier) and stays unacked, so
 * the consumer's prefetch bounds how many jobs are held while the bucket is
 * empty. Placed after validation (a malformed message costs no slot) and
 * before the idempotency claim (no claim or transaction is held while
 * waiting); an in-place retry takes a slot per attempt.
 */
export function rateLimitStep(options: RateLimitOptions): Step<JobState> {
  return async (ctx, next) => {
    for (;;) {
      if (options.signal.aborted) throw new ReleasedError();
      let waitMs: number;
      try {
        waitMs = await options.limiter.reserve();
      } catch (error) {
        ctx.logger.warn({ err: error }, 'rate limiter unavailable; the job waits and asks again');
        await sleep(options.retryMs, options.signal);
        continue;
      }
      if (waitMs > 0) await sleep(waitMs, options.signal);
      break;
    }
    await next();
  };
}
