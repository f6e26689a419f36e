import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { ReleasedError } from '../errors.ts';

/**
 * Deliveries that were still waiting for a handler slot (or behind an
 * earlier job of their key) when the worker began to stop are not started:
 * they are released, unacked, for redelivery.
 */
export function stopGateStep(stopping: AbortSignal): Step<JobState> {
  return async (_ctx, next) => {
    if (stopping.aborted) throw new ReleasedError();
    await next();
  };
}
