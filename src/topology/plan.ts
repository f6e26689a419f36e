import type { EventPlan, StreamPlan } from '../streams/stream-plan.ts';
import type { MissedPolicy, TickRule } from '../schedules/rule.ts';
import type { ExchangeType } from './schema.ts';

/**
 * The flat, broker-shaped plan that a topology file compiles to. Everything
 * downstream (diff, apply, export, the producer and the workers) reads this,
 * never the file, so a name is derived in exactly one place.
 */

export type ArgumentValue = string | number | boolean;
export type Arguments = Record<string, ArgumentValue>;

export interface ExchangePlan {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Arguments;
}

export interface QueuePlan {
  name: string;
  /** `stream`: a partition of a `streams:` entry (declared with `x-queue-type: stream`). */
  type: 'classic' | 'quorum' | 'stream';
  durable: boolean;
  autoDelete: boolean;
  /** As declared, including `x-queue-type` for quorum queues. */
  arguments: Arguments;
}

export interface BindingPlan {
  source: string;
  destination: string;
  destinationType: 'queue' | 'exchange';
  routingKey: string;
  arguments: Arguments;
}

export interface JobPlan {
  type: string;
  exchange: string;
  routingKey: string;
  /** Dot path into the payload, e.g. `orderId`. */
  orderingKey?: string;
  /**
   * With an ordering key, when the plan has sharded consumers: their
   * distinct shard counts, ascending. A job carries `x-warren-shard-<N>`
   * for each, the header the shard exchanges route on.
   */
  shardCounts?: number[];
  /** JSON Schema of the payload, as written in the file. */
  payloadSchema: Record<string, unknown>;
  description?: string;
  /** Set when the job type takes delays: its landing queue (see src/delay/levels.ts). */
  delays?: { landingQueue: string };
  /** The job type's priority range, 0 … max. */
  priority?: { max: number; default?: number };
}

/** The delay levels, when a job type takes delays. */
export interface DelaysPlan {
  queueType: 'classic' | 'quorum';
  tickMs: number;
  levels: number;
  maxDelayMs: number;
}

export interface RetryTierPlan {
  delayMs: number;
  /** `10s`, `1m`, … (also the suffix of the delay queue name). */
  label: string;
  queue: string;
}

export interface ConsumerPlan {
  name: string;
  source: { exchange: string; patterns: string[] };
  /** The queues a worker consumes: one, or the shard queues in shard order. */
  queues: string[];
  /** Set for sharded (ordered) consumers: `exchange` is a headers exchange on `x-warren-shard-<count>`. */
  shards?: { count: number; exchange: string };
  prefetch: number;
  retry: {
    /** Total attempts including the first; 1 means no retries. */
    maxAttempts: number;
    delaysMs: number[];
    /**
     * Delay queues, one per distinct delay. Empty for sharded consumers:
     * they retry in place so a later job of the same key cannot overtake.
     */
    tiers: RetryTierPlan[];
  };
  deadLetter: { exchange: string; queue: string };
  queueType: 'classic' | 'quorum';
  /** At most `max` jobs per `perMs`, across every worker process of the consumer. */
  rateLimit?: { max: number; perMs: number };
}

export interface SchedulePlan {
  name: string;
  jobType: string;
  payload: unknown;
  rule: TickRule;
  missed: MissedPolicy;
  catchUpLimit: number;
  graceMs: number;
  description?: string;
}

export interface TopologyPlan {
  vhost?: string;
  exchanges: ExchangePlan[];
  queues: QueuePlan[];
  bindings: BindingPlan[];
  jobs: JobPlan[];
  consumers: ConsumerPlan[];
  /** Partitioned logs; their queues, exchanges and bindings are in the lists above too. Absent = none. */
  streams?: StreamPlan[];
  /** Event types published to streams. Absent = none. */
  events?: EventPlan[];
  delays?: DelaysPlan;
  /** Recurring jobs; absent when the file has none. */
  schedules?: SchedulePlan[];
}

/** `source -> destination [routing key]`, the name plan output uses for a binding. */
export function bindingName(binding: BindingPlan): string {
  return `${binding.source} -> ${binding.destination} [${binding.routingKey}]`;
}
