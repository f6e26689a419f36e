import type { JobContext, WorkerDefinition } from '../define.ts';
import { DeadlineQueue } from '../../deadline-queue.ts';
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
 * for a handler that ignores its signal. The deadlines of all jobs share one
 * timer, and a job's AbortController is only made if its handler reads
 * `ctx.signal`: most handlers never do, and both cost more than a no-op job.
 */
export function handleStep(options: HandleOptions): Step<JobState> {
  const deadlines = new DeadlineQueue(options.timeoutMs, () => new HandlerTimeoutError(options.timeoutMs));
  const onHardStop = () => deadlines.expireAll(new ReleasedError());
  if (options.hardStop.aborted) queueMicrotask(onHardStop);
  else options.hardStop.addEventListener('abort', onHardStop, { once: true });
  return async (ctx) => {
    let controller: AbortController | undefined;
    let expired: Error | undefined;
    let fail: ((error: Error) => void) | undefined;
    const deadline = deadlines.start((reason) => {
      expired = reason;
      controller?.abort(reason);
      fail?.(reason);
    });
    if (options.hardStop.aborted) deadlines.expireAll(new ReleasedError());
    const signal = (): AbortSignal => {
      if (controller === undefined) {
        controller = new AbortController();
        if (expired !== undefined) controller.abort(expired);
      }
      return controller.signal;
    };
    try {
      await Promise.race([
        Promise.resolve().then(() => options.definition.handle(ctx.payload, jobContext(ctx, signal))),
        new Promise<never>((_, reject) => {
          if (expired !== undefined) reject(expired);
          else fail = reject;
        }),
      ]);
    } finally {
      deadlines.done(deadline);
    }
  };
}

function jobContext(ctx: JobState, signal: () => AbortSignal): JobContext {
  return {
    jobId: ctx.jobId,
    attempt: ctx.attempt,
    orderingKey: ctx.orderingKey,
    jobType: ctx.delivery.properties.type,
    headers: ctx.headers,
    // Read on demand: the job's child logger (its bindings serialised by pino) is made only for a handler that logs.
    get logger() {
      return ctx.logger;
    },
    get signal() {
      return signal();
    },
    tx: ctx.tx,
  };
}
