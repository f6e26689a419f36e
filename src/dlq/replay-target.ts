import { HEADERS, shardHeaders, type Headers } from '../message/headers.ts';
import { groupDeadLetterQueueOf, STREAM_HEADERS } from '../streams/group-dlq.ts';
import { partitionRoutingKey } from '../streams/partition-hash.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { derivedNames } from '../topology/names.ts';
import { clipText } from './bounds.ts';
import { DlqInputError, ReplayTargetError } from './errors.ts';
import type { ReplayTargetView } from './report.ts';
import { assertDeadLetterQueue } from './target.ts';

/**
 * Pure: where a replay sends the dead letters of one DLQ. The target comes
 * from the topology plan — which consumer (or plain quorum queue) owns this
 * DLQ — and never from a message's headers, which whoever published it
 * could have forged. The origin headers stay on the message as information.
 *
 * - `<consumer>.dlq` of a consumer with one work queue → that queue
 *   (default exchange, routing key = the queue): no other consumer bound to
 *   the job's origin exchange gets a copy.
 * - `<consumer>.dlq` of a sharded consumer → its own shard exchange, with
 *   `x-warren-shard-<N>` computed again from the job's ordering key: each
 *   job lands on the shard its key hashes to, exactly where a fresh publish
 *   of that key lands. Recomputed, not read: a dead letter from before
 *   warren picked shards has no such header, and one published with another
 *   shard count carries a stale one.
 * - `<queue>.dlq` of a plain quorum queue → that queue.
 * - `<stream>.<group>.dlq` of a stream group → back into the stream (its
 *   direct exchange), each record to the partition it was read from
 *   (`x-warren-stream-partition`), marked `x-warren-replay-for-group`: only
 *   that group's member applies it, in that partition's order; every other
 *   group skips it. The partition header, not a hash of the key: it is where
 *   the record was (a producer may pick partitions itself; a record may have
 *   no key), and for keyed records published by warren both agree, since a
 *   stream's partition count never changes.
 * - `to` (explicit) → that queue, if it is a queue of the topology and not a
 *   shard queue (a shard queue bypasses the shard exchange and its per-key
 *   order) nor a stream partition (every group of the stream would apply the
 *   copy); `force` skips that check, and is the only way without a topology.
 */

export interface ReplayRoute {
  target: ReplayTargetView;
  /** The consumer whose DLQ this is: a message dead-lettered by another consumer is not replayed. */
  owner?: string;
  /** Every consumer of the plan (to say "not in the topology"). */
  consumers?: readonly string[];
  /** Sharded target: its shard count; a message is placed by its ordering key, and one without a key cannot be. */
  shards?: number;
  /** A stream group's DLQ: the group its records are replayed for, and the stream's partition count. */
  group?: { name: string; stream: string; partitions: number };
}

export interface ReplayTargetRequest {
  /** An explicit target queue. */
  to?: string | undefined;
  /** Skip the topology checks of `to` (and allow `to` without a topology). */
  force?: boolean | undefined;
}

export function replayRouteFor(plan: TopologyPlan | undefined, dlq: string, request: ReplayTargetRequest = {}): ReplayRoute {
  // A queue that is not a DLQ is refused as such (404 over HTTP), whatever the target.
  assertDeadLetterQueue(dlq, plan);
  if (request.to !== undefined) return explicitRoute(plan, dlq, request.to, request.force === true);
  if (plan === undefined) {
    throw new DlqInputError(
      `replay needs the topology to know whose DLQ ${quote(dlq)} is (pass --topology FILE or set WARREN_TOPOLOGY), or an explicit target: --to QUEUE --force`,
    );
  }
  const consumers = plan.consumers.map((consumer) => consumer.name);
  const consumer = plan.consumers.find((candidate) => candidate.deadLetter.queue === dlq);
  if (consumer !== undefined) {
    if (consumer.shards !== undefined) {
      return {
        target: { kind: 'consumer', exchange: consumer.shards.exchange, routingKey: '' },
        owner: consumer.name,
        consumers,
        shards: consumer.shards.count,
      };
    }
    const workQueue = consumer.queues[0];
    if (workQueue !== undefined) return { target: { kind: 'consumer', exchange: '', routingKey: workQueue }, owner: consumer.name, consumers };
  }
  const queue = plan.queues.find((candidate) => derivedNames.queueDeadLetterQueue(candidate.name) === dlq && candidate.arguments['x-dead-letter-exchange'] === derivedNames.queueDeadLetterExchange(candidate.name));
  if (queue !== undefined) return { target: { kind: 'queue', exchange: '', routingKey: queue.name } };
  const grouped = groupDeadLetterQueueOf(plan.streams, dlq);
  if (grouped?.kind === 'ambiguous') {
    const names = grouped.streams.map((stream) => quote(stream.name)).join(' and ');
    throw new ReplayTargetError(`${quote(dlq)} could be the DLQ of a group of ${names}: whose it is cannot be told from the name, nowhere to replay it (use --to QUEUE)`);
  }
  if (grouped !== undefined) {
    const { stream, group } = grouped;
    return {
      target: { kind: 'group', exchange: stream.exchange, routingKey: '', group },
      group: { name: group, stream: stream.name, partitions: stream.partitions },
    };
  }
  throw new ReplayTargetError(`${quote(dlq)} belongs to no consumer or queue of the topology: nowhere to replay it (use --to QUEUE)`);
}

function explicitRoute(plan: TopologyPlan | undefined, dlq: string, to: string, force: boolean): ReplayRoute {
  const route: ReplayRoute = { target: { kind: 'to', exchange: '', routingKey: to } };
  if (to === dlq) throw new ReplayTargetError(`--to ${quote(to)} is the DLQ being replayed`);
  if (force) return route;
  if (plan === undefined) {
    throw new ReplayTargetError(`without a topology, --to ${quote(to)} cannot be checked: pass --topology FILE, or --force to publish there unchecked`);
  }
  const sharded = plan.consumers.find((consumer) => consumer.shards !== undefined && consumer.queues.includes(to));
  if (sharded !== undefined) {
    throw new ReplayTargetError(
      `--to ${quote(to)} is a shard queue of ${quote(sharded.name)}: publishing there bypasses ${quote(sharded.shards?.exchange ?? '')} and can break per-key order (replay without --to goes through it; --force publishes there anyway)`,
    );
  }
  const partitionOfStream = plan.streams?.find((stream) => stream.queues.includes(to));
  if (partitionOfStream !== undefined) {
    throw new ReplayTargetError(
      `--to ${quote(to)} is a partition of the stream ${quote(partitionOfStream.name)}: every group of the stream would apply the copy (a group's DLQ is replayed without --to, for that group only; --force publishes there anyway)`,
    );
  }
  if (!plan.queues.some((queue) => queue.name === to)) {
    throw new ReplayTargetError(`--to ${quote(to)} is not a queue of the topology (--force publishes there anyway, unchecked)`);
  }
  return route;
}

/**
 * Why one message must not be replayed along `route`, or `undefined`:
 * - it says it was dead-lettered by another consumer (or one the topology
 *   no longer has) — it does not belong here, and its own consumer may be
 *   gone: it stays for a person to decide (`--to`);
 * - a sharded target, and it has no ordering key: there is no shard to
 *   place it on;
 * - a group's DLQ, and it says another group dead-lettered it, or it has no
 *   partition of the stream to go back to.
 */
export function refusalOf(route: ReplayRoute, headers: Headers | undefined): string | undefined {
  if (route.group !== undefined) return groupRefusalOf(route.group, headers);
  const consumer = textOf(headers?.[HEADERS.consumer]);
  if (route.owner !== undefined && consumer !== undefined && consumer !== route.owner) {
    const where = route.consumers?.includes(consumer) ? 'which has its own DLQ' : 'which is not in the topology';
    return `dead-lettered by consumer ${quote(consumer)} (${where}), not by ${quote(route.owner)} whose DLQ this is; not replayed (--to QUEUE sends it somewhere explicitly)`;
  }
  if (route.shards !== undefined && orderingKeyOf(headers) === undefined) {
    return `no ${HEADERS.orderingKey} header: ${quote(route.target.exchange)} cannot place it on a shard`;
  }
  return undefined;
}

function groupRefusalOf(group: NonNullable<ReplayRoute['group']>, headers: Headers | undefined): string | undefined {
  const failedBy = textOf(headers?.[STREAM_HEADERS.group]);
  if (failedBy !== undefined && failedBy !== group.name) {
    return `dead-lettered by group ${quote(failedBy)}, not by ${quote(group.name)} whose DLQ this is; not replayed (--to QUEUE sends it somewhere explicitly)`;
  }
  if (deadLetterPartition(group, headers) === undefined) {
    const value = textOf(headers?.[STREAM_HEADERS.partition]);
    const what = value === undefined ? `no ${STREAM_HEADERS.partition} header` : `${STREAM_HEADERS.partition} ${quote(value)} is not a partition of ${quote(group.stream)} (0…${group.partitions - 1})`;
    return `${what}: cannot place it back in the stream`;
  }
  return undefined;
}

/** The partition a group's dead letter came from, if it names one of the stream's. */
function deadLetterPartition(group: NonNullable<ReplayRoute['group']>, headers: Headers | undefined): number | undefined {
  const text = textOf(headers?.[STREAM_HEADERS.partition]);
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined;
  const partition = Number(text);
  return partition < group.partitions ? partition : undefined;
}

/**
 * Where one message that `refusalOf` let through goes along `route`, and the
 * headers the route adds to the copy: a group's dead letter goes to its own
 * partition, marked for its group; a sharded consumer's to its key's shard
 * (`x-warren-shard-<N>`, replacing any it carried); anything else to the
 * route's target as is.
 */
export function placementOf(route: ReplayRoute, headers: Headers | undefined): { routingKey: string; headers: Headers } {
  if (route.shards !== undefined) {
    const key = orderingKeyOf(headers);
    if (key === undefined) throw new ReplayTargetError('placementOf: a refused message has no placement');
    return { routingKey: route.target.routingKey, headers: shardHeaders(key, [route.shards]) };
  }
  if (route.group === undefined) return { routingKey: route.target.routingKey, headers: {} };
  const partition = deadLetterPartition(route.group, headers);
  if (partition === undefined) throw new ReplayTargetError('placementOf: a refused message has no placement');
  return { routingKey: partitionRoutingKey(partition), headers: { [STREAM_HEADERS.replayForGroup]: route.group.name } };
}

/** The ordering key a dead letter carries (a number as its text, as the worker reads it). */
function orderingKeyOf(headers: Headers | undefined): string | undefined {
  return textOf(headers?.[HEADERS.orderingKey]);
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function quote(text: string): string {
  return JSON.stringify(clipText(text, 200));
}
