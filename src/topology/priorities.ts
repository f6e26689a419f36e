import { consumersReachedBy } from '../typegen/routing.ts';
import type { TopologyPlan } from './plan.ts';

/**
 * Pure: the job types with priorities each consumer can receive, found by
 * following the plan's bindings as RabbitMQ routes (the same walk `warren
 * types` uses: topic patterns, direct keys, fanout, exchange-to-exchange
 * bindings, alternate exchanges; a headers exchange counts as reachable).
 * Consumer name → the highest `max` and the job types.
 */
export function consumerPriorities(plan: TopologyPlan): Map<string, { max: number; jobTypes: string[] }> {
  const byConsumer = new Map<string, { max: number; jobTypes: string[] }>();
  for (const job of plan.jobs) {
    if (job.priority === undefined) continue;
    for (const consumer of consumersReachedBy(plan, job)) {
      const entry = byConsumer.get(consumer) ?? { max: 0, jobTypes: [] };
      entry.max = Math.max(entry.max, job.priority.max);
      entry.jobTypes.push(job.type);
      byConsumer.set(consumer, entry);
    }
  }
  return byConsumer;
}
