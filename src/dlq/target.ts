import { groupDeadLetterQueueOf } from '../streams/group-dlq.ts';
import { derivedNames } from '../topology/names.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { clipText } from './bounds.ts';
import { DlqInputError, DlqQueueError } from './errors.ts';

/**
 * Pure: which queues are dead-letter queues, and the options every DLQ
 * command shares (limit, rate), validated before anything touches a broker.
 * Where a replay sends messages is replay-target.ts.
 */

/** The plan's DLQs: each consumer's `deadLetter.queue` and the `<queue>.dlq` derived for plain quorum queues. */
export function deadLetterQueuesOf(plan: TopologyPlan): Set<string> {
  const names = new Set(plan.consumers.map((consumer) => consumer.deadLetter.queue));
  const declared = new Set(plan.queues.map((queue) => queue.name));
  for (const queue of plan.queues) {
    const derived = derivedNames.queueDeadLetterQueue(queue.name);
    const dlx = derivedNames.queueDeadLetterExchange(queue.name);
    if (queue.type === 'quorum' && queue.arguments['x-dead-letter-exchange'] === dlx && declared.has(derived)) names.add(derived);
  }
  return names;
}

/**
 * A consumer group's DLQ `<stream>.<group>.dlq` of a stream of the plan.
 * Groups are not in the topology (a worker names its group), so the name
 * is all there is to go by — but a queue the plan declares for another use
 * is never taken for one.
 */
export function isGroupDeadLetterQueue(queue: string, plan: TopologyPlan): boolean {
  if (groupDeadLetterQueueOf(plan.streams, queue) === undefined) return false;
  return !plan.queues.some((declared) => declared.name === queue);
}

/**
 * With a topology, the queue must be one of its DLQs (a consumer's, a plain
 * quorum queue's, or a stream group's); without one, its name must end in
 * `.dlq` (warren's naming), so a typo never drains a work queue.
 */
export function assertDeadLetterQueue(queue: string, plan: TopologyPlan | undefined): void {
  if (plan === undefined) {
    if (!queue.endsWith('.dlq')) {
      throw new DlqQueueError('not-a-dlq', `${quoted(queue)} is not a dead-letter queue (warren DLQs end in ".dlq"; pass --topology to check against a topology file)`);
    }
    return;
  }
  const known = deadLetterQueuesOf(plan);
  if (!known.has(queue) && !isGroupDeadLetterQueue(queue, plan)) {
    const list = [...known].sort().join(', ') || 'none';
    const groups = (plan.streams ?? []).length === 0 ? '' : `, and <stream>.<group>.dlq of a consumer group of ${(plan.streams ?? []).map((stream) => quoted(stream.name)).join(', ')}`;
    throw new DlqQueueError('not-a-dlq', `${quoted(queue)} is not a dead-letter queue of the topology (its DLQs: ${list}${groups})`);
  }
}


/** `200`, `200/s`, `12000/m` → messages per second; `undefined` means no limit. */
export function parseRate(text: string | number | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m|min))?$/.exec(String(text).trim());
  const value = match ? Number(match[1]) : Number.NaN;
  if (!match || !(value > 0)) throw new DlqInputError(`bad --rate ${quoted(String(text))}: expected a positive number per second (200 or 200/s, or 6000/m)`);
  return match[2] === undefined || match[2] === 's' ? value : value / 60;
}

export function parseLimit(text: string | number | undefined, flag = '--limit'): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new DlqInputError(`bad ${flag} ${quoted(String(text))}: expected a whole number >= 0`);
  return value;
}

/** When the `n`-th (0-based) paced publish may go: evenly spaced at `rate` per second from `startMs`. */
export function pacedSendTime(startMs: number, n: number, ratePerSecond: number | undefined): number {
  return ratePerSecond === undefined ? startMs : startMs + (n * 1000) / ratePerSecond;
}

function quoted(text: string): string {
  return JSON.stringify(clipText(text, 200));
}
