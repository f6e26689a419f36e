/** Per-run names in PostgreSQL and Redis, shared by the runner and the chaos workers. */
export function chaosNames(run: string) {
  if (!/^[a-z0-9_]+$/.test(run)) throw new Error(`bad chaos run id "${run}"`);
  return {
    effectsTable: `chaos_${run}_effects`,
    idempotencyTable: `chaos_${run}_idem`,
    redisPrefix: `warren-chaos:${run}:`,
    runsKey: (consumer: string) => `warren-chaos:${run}:runs:${consumer}`,
  };
}

/** Which consumers of topology/orders.yaml see each event type. */
export const CONSUMERS_OF = {
  'order.created': ['inventory', 'loyalty', 'recommendation', 'warehouse', 'fraud-audit', 'payments'],
  'order.cancelled': ['inventory', 'fraud-audit', 'payments'],
} as const;

export const ALL_CONSUMERS = CONSUMERS_OF['order.created'];
export type ChaosConsumer = (typeof ALL_CONSUMERS)[number];
