import type { JobHeaderValue } from './prepare.ts';

/**
 * A map of job type → payload type, e.g. the `JobTypes` that
 * `warren types` generates from the topology file. Untyped clients use
 * `Record<string, unknown>`: any job type name, any payload (checked at run
 * time against the topology's JSON Schema either way).
 */
export type JobTypeMap = object;

/** The job type names of a map. */
export type JobTypeName<Jobs extends JobTypeMap> = Extract<keyof Jobs, string>;

export interface EnqueueOptions {
  /**
   * Becomes the job id (the message id): sending the same job twice with
   * the same key yields the same id, and workers apply it once. 1 to 200
   * visible ASCII characters. @defaultValue a random UUID
   */
  idempotencyKey?: string;
  /** Set as the message's `correlationId`. Same format as the key. */
  correlationId?: string;
  /** Headers of your own (e.g. `traceparent`); names starting with `x-warren-` are refused. */
  headers?: Record<string, JobHeaderValue>;
  /**
   * Deliver the job this much later: ms, or a duration such as `'30s'`,
   * `'2h'`, `'1d'`. Up to ~621 days, rounded up to 100 ms, never early. The
   * job type must have `delays: true` in the topology. 0: at once.
   */
  delay?: number | string;
  /** Deliver the job at this time (a `Date` or an ISO 8601 string); a time past is at once. Not with `delay`. */
  runAt?: Date | string;
  /** 0 … the job type's `priority.max`; higher is consumed first. @defaultValue the job type's `priority.default` */
  priority?: number;
}

export interface EnqueueManyOptions<Payload = unknown> extends Omit<EnqueueOptions, 'idempotencyKey'> {
  /**
   * A string: the batch's key, item `i` gets the id `<key>:<i>` (as the
   * HTTP batch route does). A function: each item's own key.
   * @defaultValue a random UUID per item
   */
  idempotencyKey?: string | ((payload: Payload, index: number) => string);
}

/** What `enqueue` resolves with, once the broker confirmed the job as persisted and routed. */
export interface EnqueuedJob<JobType extends string = string> {
  id: string;
  jobType: JobType;
  routingKey: string;
  /** When the job is due (ISO 8601), for a job enqueued with `delay` or `runAt`. */
  runAt?: string;
}

export type EnqueueManyItem =
  | { index: number; id: string; ok: true }
  | { index: number; id: string | undefined; ok: false; error: Error };

export interface EnqueueManyResult {
  /** Items confirmed by the broker. */
  accepted: number;
  /** One entry per payload, in input order. */
  results: EnqueueManyItem[];
}
