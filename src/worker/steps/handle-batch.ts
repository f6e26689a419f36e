import type { BatchClaim, IdempotencyStore } from '../../idempotency/store.ts';
import type { Logger } from '../../log.ts';
import { BatchCollector } from '../batch-collector.ts';
import type { JobState } from '../context.ts';
import type { BatchJob, WorkerDefinition } from '../define.ts';
import { ClaimBusyError, HandlerTimeoutError, ReleasedError } from '../errors.ts';
import type { Step } from '../pipeline.ts';

export interface HandleBatchOptions {
  definition: Pick<WorkerDefinition, 'handleBatch'>;
  size: number;
  maxWaitMs: number;
  store: IdempotencyStore;
  /** Keys are per consumer, as in the single-job path. */
  consumer: string;
  timeoutMs: number;
  leaseMs: number;
  /** Aborted when the shutdown deadline passes: the batch is released, not settled. */
  hardStop: AbortSignal;
  logger: Logger;
}

interface Waiting {
  state: JobState;
  key: string;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The batch path's last step, in place of dedupe + handle: each job waits
 * here until its batch ran. A batch is claimed in one go (PostgreSQL: one
 * transaction), jobs already done are answered as duplicates, the handler
 * runs once for the rest, and the claims are completed together (one
 * COMMIT) before any job of the batch returns to settle, which acks it.
 * A job the handler failed returns its error alone; a thrown handler fails
 * the whole batch.
 */
export class BatchHandler {
  private readonly collector: BatchCollector<Waiting>;
  /** Keys in a running batch: a second delivery of one waits for the next batch. */
  private readonly running = new Set<string>();

  constructor(private readonly options: HandleBatchOptions) {
    this.collector = new BatchCollector(options.size, options.maxWaitMs, (items) => void this.runBatch(items));
  }

  readonly step: Step<JobState> = (state) =>
    new Promise<void>((resolve, reject) => {
      this.collector.add({ state, key: `${this.options.consumer}:${state.jobId}`, resolve, reject });
    });

  /** Runs what is gathered now instead of waiting for more (shutdown). */
  flush(): void {
    this.collector.flush();
  }

  private async runBatch(items: Waiting[]): Promise<void> {
    const batch: Waiting[] = [];
    const heldBack: Waiting[] = [];
    const keys = new Set<string>();
    for (const item of items) {
      // A duplicate inside one batch (or of a batch still running) is never
      // run beside its twin: it goes to a later batch, where the store says
      // whether the twin committed.
      if (keys.has(item.key) || this.running.has(item.key)) heldBack.push(item);
      else {
        keys.add(item.key);
        batch.push(item);
      }
    }
    for (const key of keys) this.running.add(key);
    try {
      if (batch.length > 0) await this.claimAndRun(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
    } finally {
      for (const key of keys) this.running.delete(key);
      for (const item of heldBack) this.collector.add(item);
    }
  }

  private async claimAndRun(batch: Waiting[]): Promise<void> {
    const { store, leaseMs } = this.options;
    const keys = batch.map((item) => item.key);
    const claim = store.claimBatch ? await store.claimBatch(keys, leaseMs) : await claimEach(store, keys, leaseMs);
    const toRun: Waiting[] = [];
    for (const item of batch) {
      const status = claim.statuses.get(item.key);
      if (status === 'claimed') toRun.push(item);
      else if (status === 'done') {
        item.state.duplicate = true;
        item.resolve();
      } else item.reject(new ClaimBusyError(item.key));
    }
    if (toRun.length === 0) {
      await claim.release();
      return;
    }
    const failed = new Map<Waiting, unknown>();
    const jobs = toRun.map((item) => batchJob(item, failed));
    try {
      await this.callHandler(jobs, claim);
    } catch (error) {
      await claim.release().catch((releaseError: unknown) => this.options.logger.warn({ err: releaseError }, 'releasing the batch claim failed'));
      for (const item of toRun) item.reject(error);
      return;
    }
    // One COMMIT for the batch; a failure here (ClaimLostError) fails every job of it.
    await claim.complete([...failed.keys()].map((item) => item.key));
    for (const item of toRun) {
      if (failed.has(item)) item.reject(failed.get(item));
      else item.resolve();
    }
  }

  /** One deadline and one abort signal for the whole batch, not one per job. */
  private async callHandler(jobs: BatchJob[], claim: BatchClaim): Promise<void> {
    const { definition, timeoutMs, hardStop, logger } = this.options;
    const handleBatch = definition.handleBatch;
    if (handleBatch === undefined) throw new Error('unreachable: a batch worker without handleBatch');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new HandlerTimeoutError(timeoutMs)), timeoutMs);
    const onHardStop = () => controller.abort(new ReleasedError());
    if (hardStop.aborted) onHardStop();
    hardStop.addEventListener('abort', onHardStop, { once: true });
    try {
      await Promise.race([
        Promise.resolve().then(() => handleBatch(jobs, { tx: claim.tx, signal: controller.signal, logger })),
        new Promise<never>((_, reject) => {
          const fail = () => reject(controller.signal.reason instanceof Error ? controller.signal.reason : new ReleasedError());
          if (controller.signal.aborted) fail();
          else controller.signal.addEventListener('abort', fail, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      hardStop.removeEventListener('abort', onHardStop);
    }
  }
}

function batchJob(item: Waiting, failed: Map<Waiting, unknown>): BatchJob {
  const { state } = item;
  return {
    payload: state.payload,
    jobId: state.jobId,
    attempt: state.attempt,
    orderingKey: state.orderingKey,
    jobType: state.delivery.properties.type,
    headers: state.headers,
    get logger() {
      return state.logger;
    },
    fail: (error) => {
      if (!failed.has(item)) failed.set(item, error);
    },
  };
}

/**
 * A store without batch claims (memory, Redis): one claim per key, all
 * issued at once (the Redis client pipelines commands sent in one tick).
 */
async function claimEach(store: IdempotencyStore, keys: string[], leaseMs: number): Promise<BatchClaim> {
  const results = await Promise.allSettled(keys.map((key) => store.claim(key, leaseMs)));
  const statuses = new Map<string, 'claimed' | 'done' | 'busy'>();
  const settle = new Map<string, { complete(): Promise<void>; release(): Promise<void> }>();
  let firstError: { error: unknown } | undefined;
  results.forEach((result, index) => {
    const key = keys[index] as string;
    if (result.status === 'rejected') {
      firstError ??= { error: result.reason };
      return;
    }
    statuses.set(key, result.value.status);
    if (result.value.status === 'claimed') settle.set(key, result.value);
  });
  if (firstError !== undefined) {
    await Promise.allSettled([...settle.values()].map((claim) => claim.release()));
    throw firstError.error;
  }
  return {
    statuses,
    complete: async (failed) => {
      const failedKeys = new Set(failed);
      const outcomes = await Promise.allSettled([...settle].map(([key, claim]) => (failedKeys.has(key) ? claim.release() : claim.complete())));
      const rejected = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (rejected !== undefined) throw rejected.reason;
    },
    release: async () => {
      await Promise.allSettled([...settle.values()].map((claim) => claim.release()));
    },
  };
}
