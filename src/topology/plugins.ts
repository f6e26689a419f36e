import type { TopologyPlan } from './plan.ts';

/**
 * Pure: the RabbitMQ plugins a topology needs on the broker. The management
 * API always (plan, apply and doctor read the broker through it). The
 * consistent-hash exchange only for an `x-consistent-hash` exchange the file
 * declares itself: sharded consumers route on warren's own shard header
 * through a core headers exchange and need no plugin.
 */
export const MANAGEMENT_PLUGIN = 'rabbitmq_management';
export const CONSISTENT_HASH_PLUGIN = 'rabbitmq_consistent_hash_exchange';

export function pluginsNeededBy(plan: Pick<TopologyPlan, 'exchanges'>): string[] {
  return [MANAGEMENT_PLUGIN, ...(plan.exchanges.some((exchange) => exchange.type === 'x-consistent-hash') ? [CONSISTENT_HASH_PLUGIN] : [])];
}
