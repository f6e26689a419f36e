import type { BindingPlan, ExchangePlan, QueuePlan } from '../topology/plan.ts';
import { partitionQueue, partitionRoutingKey } from './partition-hash.ts';

/**
 * Pure: a `streams:` entry of the topology file → the broker objects that
 * make it a partitioned log (RabbitMQ 3.10 has no super streams over AMQP
 * 0-9-1, so partitions are built by hand): N durable stream queues
 * `<stream>.p<i>` bound to a direct exchange `<stream>` with keys `p<i>`.
 * The publisher picks the partition (`partitionOf`), so the exchange only
 * routes.
 */

export interface StreamRetention {
  /** `x-max-age`: segments older than this are removed (whole segments, when a write rolls one). */
  maxAgeMs?: number;
  /** `x-max-length-bytes`: per partition. */
  maxLengthBytes?: number;
}

/** What the plan keeps about a stream, for publishers, groups and `stream status`. */
export interface StreamPlan {
  name: string;
  partitions: number;
  /** The direct exchange events are published to. */
  exchange: string;
  /** `<stream>.p0 … <stream>.p<N-1>`, in partition order. */
  queues: string[];
  retention: StreamRetention;
  segmentSizeBytes?: number;
  description?: string;
}

/** An event type: a payload schema, the stream it goes to, and the field that picks the partition. */
export interface EventPlan {
  type: string;
  stream: string;
  /** Dot path of the payload field whose value is the partition key (e.g. `orderId`). */
  key: string;
  payloadSchema: Record<string, unknown>;
  description?: string;
}

export interface StreamInput {
  partitions: number;
  retention: { maxAge?: number | undefined; maxLengthBytes?: number | undefined };
  segmentSizeBytes?: number | undefined;
  description?: string | undefined;
}

export interface StreamObjects {
  stream: StreamPlan;
  exchange: ExchangePlan;
  queues: QueuePlan[];
  bindings: BindingPlan[];
}

export function streamObjects(name: string, input: StreamInput): StreamObjects {
  const args: Record<string, string | number> = { 'x-queue-type': 'stream' };
  if (input.retention.maxAge !== undefined) args['x-max-age'] = maxAgeArgument(input.retention.maxAge);
  if (input.retention.maxLengthBytes !== undefined) args['x-max-length-bytes'] = input.retention.maxLengthBytes;
  if (input.segmentSizeBytes !== undefined) args['x-stream-max-segment-size-bytes'] = input.segmentSizeBytes;
  const indices = Array.from({ length: input.partitions }, (_, index) => index);
  const queues = indices.map((index): QueuePlan => ({
    name: partitionQueue(name, index),
    type: 'stream',
    durable: true,
    autoDelete: false,
    arguments: { ...args },
  }));
  const retention: StreamRetention = {
    ...(input.retention.maxAge !== undefined && { maxAgeMs: input.retention.maxAge }),
    ...(input.retention.maxLengthBytes !== undefined && { maxLengthBytes: input.retention.maxLengthBytes }),
  };
  return {
    stream: {
      name,
      partitions: input.partitions,
      exchange: name,
      queues: queues.map((q) => q.name),
      retention,
      ...(input.segmentSizeBytes !== undefined && { segmentSizeBytes: input.segmentSizeBytes }),
      ...(input.description !== undefined && { description: input.description }),
    },
    exchange: { name, type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} },
    queues,
    bindings: indices.map((index): BindingPlan => ({
      source: name,
      destination: partitionQueue(name, index),
      destinationType: 'queue',
      routingKey: partitionRoutingKey(index),
      arguments: {},
    })),
  };
}

const AGE_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['D', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/**
 * `x-max-age` in RabbitMQ's own notation (`7D`, `12h`, `90s`): the largest
 * unit that divides the duration exactly. RabbitMQ has no sub-second unit;
 * the schema refuses one.
 */
export function maxAgeArgument(ms: number): string {
  for (const [unit, factor] of AGE_UNITS) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  throw new RangeError(`x-max-age must be a whole number of seconds, got ${ms} ms`);
}
