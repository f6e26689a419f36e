import type { z } from 'zod';
import type { IdempotencyStore, IdempotencyTransaction } from '../idempotency/store.ts';
import type { Logger } from '../log.ts';

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The job id (`messageId`); the idempotency key. */
  jobId: string;
  /** 1 on the first delivery, counted by warren (never from `x-death`). */
  attempt: number;
  /** `x-warren-ordering-key`, when the producer set one. */
  orderingKey: string | undefined;
  jobType: string | undefined;
  headers: Readonly<Record<string, unknown>>;
  /** Bound to the job id, consumer and attempt. */
  logger: Logger;
  /** Aborted when the handler times out or the worker's shutdown deadline passes. */
  signal: AbortSignal;
  /**
   * With the PostgreSQL idempotency store: the transaction that records the
   * job id. Effects written through it commit together with the record.
   */
  tx: IdempotencyTransaction | undefined;
}

/** A store, or a factory called once when the worker starts (so importing a module opens nothing). */
export type IdempotencyOption = IdempotencyStore | (() => IdempotencyStore | Promise<IdempotencyStore>);

/** One job of a batch, as `handleBatch` sees it. */
export interface BatchJob<Payload = unknown> {
  payload: Payload;
  jobId: string;
  attempt: number;
  orderingKey: string | undefined;
  jobType: string | undefined;
  headers: Readonly<Record<string, unknown>>;
  logger: Logger;
  /**
   * Fails this job alone: it goes to its next retry tier or the DLQ and its
   * dedup record is not committed, while the rest of the batch commits. Fail
   * a job *before* writing its effects through `ctx.tx`: what was written for
   * it commits with the batch.
   */
  fail(error: unknown): void;
}

/** What a batch handler gets besides its jobs. */
export interface BatchContext {
  /**
   * With the PostgreSQL store: the one transaction that records every job id
   * of the batch; effects written through it commit together with them.
   */
  tx: IdempotencyTransaction | undefined;
  /** Aborted when the batch times out or the worker's shutdown deadline passes. */
  signal: AbortSignal;
  logger: Logger;
}

export interface BatchOptions {
  /** Most jobs per handler call. Needs the consumer's prefetch (and concurrency) at least this big. */
  size: number;
  /** How long the first job of a batch waits for more before the batch runs anyway. */
  maxWaitMs: number;
}

interface WorkerSpecBase<Payload> {
  /** A consumer of the topology file: queues, prefetch, retries and DLQ come from there. */
  consumer: string;
  /**
   * Optional, a stricter check of your own. Every payload is first checked
   * against its job type's JSON Schema in the topology file (the message's
   * `type`); this zod schema then runs too, and its output is what the
   * handler gets. A failure of either dead-letters the message at once.
   * Without it, type the payload with the generated types:
   * `defineWorker<ConsumerPayloads['name']>({ … })` (`warren types`).
   */
  schema?: z.ZodType<Payload>;
  /** Handlers in flight at once. @defaultValue the consumer's prefetch */
  concurrency?: number;
  /** A handler running longer is aborted and retried. @defaultValue 30_000 */
  timeoutMs?: number;
  /** @defaultValue an in-memory store (bounded LRU with TTL) */
  idempotency?: IdempotencyOption;
  /** How long a claim is held before another delivery may take it. @defaultValue timeoutMs + 5_000 */
  leaseMs?: number;
  /** Classifies errors; `false` sends the job to the DLQ without retries. @defaultValue every error but `NonRetryableError` */
  isRetryable?: (error: unknown) => boolean;
}

export interface WorkerSpec<Payload = unknown> extends WorkerSpecBase<Payload> {
  handle(payload: Payload, ctx: JobContext): Promise<void> | void;
}

/**
 * A batch worker: `handleBatch` gets up to `batch.size` jobs at once (or
 * what arrived within `batch.maxWaitMs`). Throwing fails the whole batch;
 * `job.fail()` fails one job. `timeoutMs` bounds one batch.
 */
export interface BatchWorkerSpec<Payload = unknown> extends WorkerSpecBase<Payload> {
  batch: BatchOptions;
  handleBatch(jobs: Array<BatchJob<Payload>>, ctx: BatchContext): Promise<void> | void;
}

const WORKER_DEFINITION = Symbol.for('warren.worker-definition');

/** A worker definition with its payload type erased, as the runtime holds it. */
export interface WorkerDefinition {
  readonly [WORKER_DEFINITION]: true;
  readonly consumer: string;
  readonly schema?: z.ZodType | undefined;
  handle(payload: unknown, ctx: JobContext): Promise<void> | void;
  readonly concurrency?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly idempotency?: IdempotencyOption | undefined;
  readonly leaseMs?: number | undefined;
  readonly isRetryable?: ((error: unknown) => boolean) | undefined;
  /** Set for batch workers, with `handleBatch`; `handle` then runs a batch of one. */
  readonly batch?: BatchOptions | undefined;
  handleBatch?(jobs: BatchJob[], ctx: BatchContext): Promise<void> | void;
}

/**
 * Typed helper for worker modules: `export default defineWorker({...})`.
 * The payload type comes from the explicit type argument (the generated
 * `ConsumerPayloads['name']`), else from `schema`, else `unknown`.
 */
export function defineWorker<Payload = unknown>(spec: WorkerSpec<Payload>): WorkerDefinition;
export function defineWorker<Payload = unknown>(spec: BatchWorkerSpec<Payload>): WorkerDefinition;
export function defineWorker<Payload = unknown>(spec: WorkerSpec<Payload> | BatchWorkerSpec<Payload>): WorkerDefinition {
  if ('handleBatch' in spec) {
    const { handleBatch, ...rest } = spec;
    const runBatch = (jobs: BatchJob[], ctx: BatchContext) => handleBatch(jobs as Array<BatchJob<Payload>>, ctx);
    return {
      ...rest,
      handleBatch: runBatch,
      handle: (payload, ctx) => runBatchOfOne(runBatch, payload, ctx),
      [WORKER_DEFINITION]: true,
    };
  }
  return {
    ...spec,
    handle: (payload, ctx) => spec.handle(payload as Payload, ctx),
    [WORKER_DEFINITION]: true,
  };
}

/** A batch handler called the single-job way: a failed job becomes the thrown error. */
async function runBatchOfOne(handleBatch: (jobs: BatchJob[], ctx: BatchContext) => Promise<void> | void, payload: unknown, ctx: JobContext): Promise<void> {
  let failure: { error: unknown } | undefined;
  const job: BatchJob = {
    payload,
    jobId: ctx.jobId,
    attempt: ctx.attempt,
    orderingKey: ctx.orderingKey,
    jobType: ctx.jobType,
    headers: ctx.headers,
    logger: ctx.logger,
    fail: (error) => {
      failure ??= { error };
    },
  };
  await handleBatch([job], { tx: ctx.tx, signal: ctx.signal, logger: ctx.logger });
  if (failure !== undefined) throw failure.error;
}

export function isWorkerDefinition(value: unknown): value is WorkerDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[WORKER_DEFINITION] === true;
}
