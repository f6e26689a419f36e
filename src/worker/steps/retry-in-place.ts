import type { ConsumerPlan } from '../../topology/plan.ts';
import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { immediateDeadLetterReason, ReleasedError } from '../errors.ts';
import { delayForAttempt } from '../retry-policy.ts';
import { sleep } from '../sleep.ts';

export interface RetryInPlaceOptions {
  retry: ConsumerPlan['retry'];
  isRetryable: (error: unknown) => boolean;
  /** Aborted on shutdown: stop waiting, release the job. */
  signal: AbortSignal;
  onRetry?: (ctx: JobState, error: unknown, delayMs: number) => void;
}

/**
 * For ordered (sharded) consumers: a failed attempt is retried right here
 * after its backoff, so the job keeps its place and later jobs of its key
 * wait behind it. When the attempts run out the error goes on to settle,
 * which dead-letters it and lets the key move on.
 */
export function retryInPlaceStep(options: RetryInPlaceOptions): Step<JobState> {
  return async (ctx, next) => {
    for (;;) {
      try {
        await next();
        return;
      } catch (error) {
        if (!(error instanceof ReleasedError)) ctx.firstFailedAt ??= new Date();
        const retryable =
          !(error instanceof ReleasedError) &&
          immediateDeadLetterReason(error, options.isRetryable) === undefined &&
          ctx.attempt < options.retry.maxAttempts;
        if (!retryable) throw error;
        const delayMs = delayForAttempt(ctx.attempt, options.retry.delaysMs);
        options.onRetry?.(ctx, error, delayMs);
        await sleep(delayMs, options.signal);
        ctx.attempt++;
      }
    }
  };
}
