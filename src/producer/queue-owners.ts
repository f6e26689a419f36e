import { groupDeadLetterQueueOf } from '../streams/group-dlq.ts';
import type { TopologyPlan } from '../topology/plan.ts';

/** What a queue is to the consumer that owns it (the kinds the lag metrics use), or `delay`: a queue of the delayed-jobs levels. */
export type QueueKind = 'work' | 'retry' | 'dead-letter' | 'delay';

export interface QueueOwner {
  /** Null for the delay levels, which hold jobs for every consumer. */
  consumer: string | null;
  kind: QueueKind;
}

/** Every queue of the delayed-jobs machinery (levels and landing queues) is named under this prefix (src/delay/levels.ts). */
const DELAY_PREFIX = 'warren.delay.';

/**
 * Pure: each consumer's queues (work queue or shards, retry tiers, DLQ) by
 * name, from the plan — so `GET /v1/queues` can say whose a queue is rather
 * than leave clients (the console) to guess from derived names.
 */
export function queueOwners(plan: Pick<TopologyPlan, 'consumers' | 'queues'>): Map<string, QueueOwner> {
  const owners = new Map<string, QueueOwner>();
  // Nobody consumes them: they only hold jobs until they are due, so no one is "not subscribed" there.
  for (const queue of plan.queues) if (queue.name.startsWith(DELAY_PREFIX)) owners.set(queue.name, { consumer: null, kind: 'delay' });
  for (const consumer of plan.consumers) {
    for (const queue of consumer.queues) owners.set(queue, { consumer: consumer.name, kind: 'work' });
    for (const tier of consumer.retry.tiers) owners.set(tier.queue, { consumer: consumer.name, kind: 'retry' });
    owners.set(consumer.deadLetter.queue, { consumer: consumer.name, kind: 'dead-letter' });
  }
  return owners;
}

/**
 * Pure: a consumer group's DLQ (`<stream>.<group>.dlq`, declared by the
 * group's members, not by the plan) as a dead-letter queue owned by
 * `<stream>.<group>` — the name DLQ history gives it too — or `undefined`.
 */
export function groupDeadLetterOwner(plan: Pick<TopologyPlan, 'streams'>, queue: string): QueueOwner | undefined {
  const found = groupDeadLetterQueueOf(plan.streams, queue);
  return found?.kind === 'group' ? { consumer: `${found.stream.name}.${found.group}`, kind: 'dead-letter' } : undefined;
}
