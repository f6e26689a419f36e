import { z } from 'zod';
import type { JobPlan } from '../topology/plan.ts';

/**
 * A job type as the producer serves it: the plan entry plus what the hot
 * path needs, built once at startup (the validator, the split ordering-key
 * path) so a request only looks a job type up and runs its validator.
 */
export interface JobType {
  type: string;
  exchange: string;
  routingKey: string;
  orderingKey: string | undefined;
  /** `orderingKey` split on dots, e.g. `customer.id` → `['customer', 'id']`. */
  orderingKeyPath: readonly string[] | undefined;
  /** The plan's shard counts: a job with an ordering key carries `x-warren-shard-<N>` for each. */
  shardCounts: readonly number[];
  /** The payload's JSON Schema, as written in the topology. */
  jsonSchema: Record<string, unknown>;
  validator: z.ZodType;
  description: string | undefined;
  /** The job type takes `delay` / `runAt`. */
  delays: boolean;
  /** Its priority range (0 … max) and default, when it declares one. */
  priority: { max: number; default?: number } | undefined;
}

export function buildJobTypes(jobs: readonly JobPlan[]): Map<string, JobType> {
  const types = new Map<string, JobType>();
  for (const job of jobs) {
    types.set(job.type, {
      type: job.type,
      exchange: job.exchange,
      routingKey: job.routingKey,
      orderingKey: job.orderingKey,
      orderingKeyPath: job.orderingKey?.split('.'),
      shardCounts: job.shardCounts ?? [],
      jsonSchema: job.payloadSchema,
      validator: z.fromJSONSchema(job.payloadSchema as Parameters<typeof z.fromJSONSchema>[0]),
      description: job.description,
      delays: job.delays !== undefined,
      priority: job.priority,
    });
  }
  return types;
}

/**
 * Longest ordering key, in UTF-8 bytes. It travels as the
 * `x-warren-ordering-key` header (and picks the `x-warren-shard-<N>` headers);
 * AMQP would carry more, but a key is an id (customer, account), and the
 * bound keeps every header the producer writes within a short string.
 */
export const ORDERING_KEY_MAX_BYTES = 255;

/**
 * The ordering key of a valid payload: the string or number at the job's
 * path, as a string; `undefined` when the job type has none. Throws
 * `InvalidOrderingKeyError` when the job type names one the payload lacks
 * (a keyless job of an ordered type would hash to an arbitrary shard) or
 * when it is longer than `ORDERING_KEY_MAX_BYTES`.
 */
export function orderingKeyOf(jobType: JobType, payload: unknown): string | undefined {
  const path = jobType.orderingKeyPath;
  if (path === undefined) return undefined;
  let value: unknown = payload;
  for (const key of path) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  const name = jobType.orderingKey ?? '';
  const key = typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
  if (key === undefined) throw new InvalidOrderingKeyError(name, 'must be a non-empty string or a number');
  if (Buffer.byteLength(key, 'utf8') > ORDERING_KEY_MAX_BYTES) {
    throw new InvalidOrderingKeyError(name, `must be at most ${ORDERING_KEY_MAX_BYTES} bytes (UTF-8)`);
  }
  return key;
}

export class InvalidOrderingKeyError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`the ordering key "${path}" ${reason}`);
  }
}
