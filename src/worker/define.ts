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

export interface WorkerSpec<Payload = unknown> {
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
  handle(payload: Payload, ctx: JobContext): Promise<void> | void;
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
}

/**
 * Typed helper for worker modules: `export default defineWorker({...})`.
 * The payload type comes from the explicit type argument (the generated
 * `ConsumerPayloads['name']`), else from `schema`, else `unknown`.
 */
export function defineWorker<Payload = unknown>(spec: WorkerSpec<Payload>): WorkerDefinition {
  return {
    ...spec,
    handle: (payload, ctx) => spec.handle(payload as Payload, ctx),
    [WORKER_DEFINITION]: true,
  };
}

export function isWorkerDefinition(value: unknown): value is WorkerDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[WORKER_DEFINITION] === true;
}
