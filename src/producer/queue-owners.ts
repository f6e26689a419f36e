import type { TopologyPlan } from '../topology/plan.ts';

/** What a queue is to the consumer that owns it (the kinds the lag metrics use). */
export type QueueKind = 'work' | 'retry' | 'dead-letter';

export interface QueueOwner {
  consumer: string;
  kind: QueueKind;
}

/**
 * Pure: each consumer's queues (work queue or shards, retry tiers, DLQ) by
 * name, from the plan — so `GET /v1/queues` can say whose a queue is rather
 * than leave clients (the console) to guess from derived names.
 */
export function queueOwners(plan: Pick<TopologyPlan, 'consumers'>): Map<string, QueueOwner> {
  const owners = new Map<string, QueueOwner>();
  for (const consumer of plan.consumers) {
    for (const queue of consumer.queues) owners.set(queue, { consumer: consumer.name, kind: 'work' });
    for (const tier of consumer.retry.tiers) owners.set(tier.queue, { consumer: consumer.name, kind: 'retry' });
    owners.set(consumer.deadLetter.queue, { consumer: consumer.name, kind: 'dead-letter' });
  }
  return owners;
}
