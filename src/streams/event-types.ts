import { z } from 'zod';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import type { JobType } from '../client/job-types.ts';
import { prepareJob, type JobInput } from '../client/prepare.ts';
import { HEADERS } from '../message/headers.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { UnknownEventTypeError } from './errors.ts';
import { partitionOf, partitionRoutingKey } from './partition-hash.ts';

/**
 * An event type as publishers use it: validated like a job (the same
 * `prepareJob`, so a payload, an id or a header is judged the same way),
 * its key field read like a job's ordering key, and routed to
 * `p<stableHash(key) mod N>` of its stream's exchange.
 */
export interface EventType {
  type: string;
  stream: string;
  partitions: number;
  /** Dot path of the key field. */
  key: string;
  jsonSchema: Record<string, unknown>;
  description: string | undefined;
  /** The job-shaped view `prepareJob` takes (exchange = the stream's exchange, ordering key = the key field). */
  asJob: JobType;
}

export function buildEventTypes(plan: Pick<TopologyPlan, 'events' | 'streams'>): Map<string, EventType> {
  const streams = new Map((plan.streams ?? []).map((stream) => [stream.name, stream]));
  const types = new Map<string, EventType>();
  for (const event of plan.events ?? []) {
    const stream = streams.get(event.stream);
    if (stream === undefined) throw new Error(`event type ${event.type} names unknown stream ${event.stream}`);
    types.set(event.type, {
      type: event.type,
      stream: stream.name,
      partitions: stream.partitions,
      key: event.key,
      jsonSchema: event.payloadSchema,
      description: event.description,
      asJob: {
        type: event.type,
        exchange: stream.exchange,
        routingKey: '',
        orderingKey: event.key,
        orderingKeyPath: event.key.split('.'),
        // A stream picks its partition from the key itself; no consumer shards an event.
        shardCounts: [],
        jsonSchema: event.payloadSchema,
        validator: z.fromJSONSchema(event.payloadSchema as Parameters<typeof z.fromJSONSchema>[0]),
        description: event.description,
        // Events are appended to a log as they come: no delays, no priorities.
        delays: false,
        priority: undefined,
      },
    });
  }
  return types;
}

export function eventTypeOf(types: ReadonlyMap<string, EventType>, name: string): EventType {
  const found = types.get(name);
  if (found === undefined) throw new UnknownEventTypeError(name, [...types.keys()]);
  return found;
}

export interface PreparedEvent {
  message: OutgoingMessage;
  key: string;
  partition: number;
}

/**
 * Pure: validate → key → partition → the message (DESIGN.md's conventions,
 * the key in `x-warren-ordering-key`). Throws `InvalidJobPayloadError` for
 * a payload that fails the schema or lacks its key.
 */
export function prepareEvent(eventType: EventType, input: JobInput): PreparedEvent {
  const prepared = prepareJob(eventType.asJob, input);
  // prepareJob throws for a missing key when the type has a key path, which every event type has.
  const key = prepared.orderingKey ?? '';
  const partition = partitionOf(key, eventType.partitions);
  const routingKey = partitionRoutingKey(partition);
  const { message } = prepared;
  // A record carries the key and the caller's headers, not a job's
  // bookkeeping: no attempt count (a log is not retried by republishing),
  // no first-seen time (the timestamp property is the publish time), no
  // origin (the stream and the partition are where it is). Every header is
  // encoded per record and stored for the stream's retention.
  const { [HEADERS.attempt]: _attempt, [HEADERS.firstSeenAt]: _firstSeenAt, [HEADERS.originExchange]: _exchange, [HEADERS.originRoutingKey]: _routingKey, ...headers } =
    message.options.headers ?? {};
  return { key, partition, message: { ...message, routingKey, options: { ...message.options, headers } } };
}
