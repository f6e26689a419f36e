import type { BindingPlan, ExchangePlan, TopologyPlan } from '../topology/plan.ts';

/**
 * Pure: which consumers a job type reaches, by following the plan's bindings
 * from the job's exchange (exchange-to-exchange too) the way RabbitMQ routes:
 * topic patterns, fanout, direct keys. A consistent-hash exchange picks one
 * of its queues, and so does a sharded consumer's shard exchange (a headers
 * exchange on the shard the job client names), so each counts once for its
 * consumer. Other headers exchanges are not followed (the demo's topology
 * has none).
 */
export function consumersReached(plan: TopologyPlan, exchange: string, routingKey: string): Set<string> {
  const exchanges = new Map(plan.exchanges.map((e) => [e.name, e]));
  const queueOwner = new Map(plan.consumers.flatMap((c) => c.queues.map((q) => [q, c.name] as const)));
  const shardExchanges = new Set(plan.consumers.flatMap((c) => (c.shards === undefined ? [] : [c.shards.exchange])));
  const reached = new Set<string>();
  const visited = new Set<string>();
  const walk = (name: string) => {
    if (visited.has(name)) return;
    visited.add(name);
    const source = exchanges.get(name);
    if (source === undefined) return;
    for (const binding of plan.bindings.filter((b) => b.source === name && (shardExchanges.has(name) || routes(source, b, routingKey)))) {
      if (binding.destinationType === 'exchange') walk(binding.destination);
      else {
        const owner = queueOwner.get(binding.destination);
        if (owner !== undefined) reached.add(owner);
      }
    }
  };
  walk(exchange);
  return reached;
}

/** Expected deliveries per consumer for a number of jobs of each type. */
export function expectedDeliveries(plan: TopologyPlan, jobsByType: ReadonlyMap<string, number>): Map<string, number> {
  const expected = new Map(plan.consumers.map((c) => [c.name, 0]));
  for (const job of plan.jobs) {
    const count = jobsByType.get(job.type) ?? 0;
    for (const consumer of consumersReached(plan, job.exchange, job.routingKey)) {
      expected.set(consumer, (expected.get(consumer) ?? 0) + count);
    }
  }
  return expected;
}

function routes(exchange: ExchangePlan, binding: BindingPlan, routingKey: string): boolean {
  switch (exchange.type) {
    case 'fanout':
    case 'x-consistent-hash':
      return true;
    case 'direct':
      return binding.routingKey === routingKey;
    case 'topic':
      return topicMatches(binding.routingKey, routingKey);
    default:
      return false;
  }
}

/** AMQP topic matching: `*` is exactly one word, `#` zero or more. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const words = routingKey === '' ? [] : routingKey.split('.');
  const parts = pattern === '' ? [] : pattern.split('.');
  const match = (p: number, w: number): boolean => {
    if (p === parts.length) return w === words.length;
    if (parts[p] === '#') return match(p + 1, w) || (w < words.length && match(p, w + 1));
    if (w === words.length) return false;
    return (parts[p] === '*' || parts[p] === words[w]) && match(p + 1, w + 1);
  };
  return match(0, 0);
}
