import { HEADERS, type Headers } from '../message/headers.ts';
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
 * - `<consumer>.dlq` of a sharded consumer → its own consistent-hash
 *   exchange, so each job lands on the shard its ordering key hashes to,
 *   exactly where a fresh publish of that key lands.
 * - `<queue>.dlq` of a plain quorum queue → that queue.
 * - `to` (explicit) → that queue, if it is a queue of the topology and not a
 *   shard queue (a shard queue bypasses the hash exchange and its per-key
 *   order); `force` skips that check, and is the only way without a topology.
 */

export interface ReplayRoute {
  target: ReplayTargetView;
  /** The consumer whose DLQ this is: a message dead-lettered by another consumer is not replayed. */
  owner?: string;
  /** Every consumer of the plan (to say "not in the topology"). */
  consumers?: readonly string[];
  /** Sharded target: the header the hash exchange routes on; a message without it cannot be placed. */
  hashHeader?: string;
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
      const exchange = consumer.shards.exchange;
      const hashHeader = plan.exchanges.find((candidate) => candidate.name === exchange)?.arguments['hash-header'];
      return {
        target: { kind: 'consumer', exchange, routingKey: '' },
        owner: consumer.name,
        consumers,
        ...(typeof hashHeader === 'string' && { hashHeader }),
      };
    }
    const workQueue = consumer.queues[0];
    if (workQueue !== undefined) return { target: { kind: 'consumer', exchange: '', routingKey: workQueue }, owner: consumer.name, consumers };
  }
  const queue = plan.queues.find((candidate) => derivedNames.queueDeadLetterQueue(candidate.name) === dlq && candidate.arguments['x-dead-letter-exchange'] === derivedNames.queueDeadLetterExchange(candidate.name));
  if (queue !== undefined) return { target: { kind: 'queue', exchange: '', routingKey: queue.name } };
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
 * - a sharded target, and it has no ordering key: the hash exchange could
 *   not place it on a shard.
 */
export function refusalOf(route: ReplayRoute, headers: Headers | undefined): string | undefined {
  const consumer = textOf(headers?.[HEADERS.consumer]);
  if (route.owner !== undefined && consumer !== undefined && consumer !== route.owner) {
    const where = route.consumers?.includes(consumer) ? 'which has its own DLQ' : 'which is not in the topology';
    return `dead-lettered by consumer ${quote(consumer)} (${where}), not by ${quote(route.owner)} whose DLQ this is; not replayed (--to QUEUE sends it somewhere explicitly)`;
  }
  if (route.hashHeader !== undefined && textOf(headers?.[route.hashHeader]) === undefined) {
    return `no ${route.hashHeader} header: ${quote(route.target.exchange)} cannot place it on a shard`;
  }
  return undefined;
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
