import type { JobContext, WorkerDefinition } from '../define.ts';
import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { HandlerTimeoutError, ReleasedError } from '../errors.ts';

export interface HandleOptions {
  definition: Pick<WorkerDefinition, 'handle'>;
  timeoutMs: number;
  /** Aborted when the shutdown deadline passes: the job is released, not settled. */
  hardStop: AbortSignal;
}

/**
 * Runs the handler with a deadline. On timeout (or the shutdown deadline)
 * the handler's signal aborts and the step fails at once, without waiting
 * for a handler that ignores its signal.
 */
export function handleStep(options: HandleOptions): Step<JobState> {
  return async (ctx) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new HandlerTimeoutError(options.timeoutMs)), options.timeoutMs);
    const onHardStop = () => controller.abort(new ReleasedError());
    if (options.hardStop.aborted) onHardStop();
    options.hardStop.addEventListener('abort', onHardStop, { once: true });
    try {
      await Promise.race([Promise.resolve().then(() => options.definition.handle(ctx.payload, jobContext(ctx, controller.signal))), rejectOnAbort(controller.signal)]);
    } finally {
      clearTimeout(timer);
      options.hardStop.removeEventListener('abort', onHardStop);
    }
  };
}

function jobContext(ctx: JobState, signal: AbortSignal): JobContext {
  return {
    jobId: ctx.jobId,
    attempt: ctx.attempt,
    orderingKey: ctx.orderingKey,
    jobType: ctx.delivery.properties.type,
    headers: ctx.headers,
    logger: ctx.logger,
    signal,
    tx: ctx.tx,
  };
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new ReleasedError());
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}
