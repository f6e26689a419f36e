import { BUILTIN_EXCHANGES, type ExchangeType } from '../topology/schema.ts';
import type { JobPlan, TopologyPlan } from '../topology/plan.ts';

/**
 * Pure: which consumers a job type can reach, by following the plan's
 * bindings the way RabbitMQ routes (topic patterns, fanout, direct keys,
 * exchange-to-exchange bindings, alternate exchanges). Where routing depends
 * on what only the message knows (a headers exchange), the binding counts as
 * reachable: a consumer's payload type must cover every job that may arrive.
 */
export function consumersReachedBy(plan: TopologyPlan, job: Pick<JobPlan, 'exchange' | 'routingKey'>): string[] {
  const queues = queuesReached(plan, job.exchange, job.routingKey);
  return plan.consumers.filter((consumer) => consumer.queues.some((queue) => queues.has(queue))).map((consumer) => consumer.name);
}

/** Consumer name → the job types that can reach it, in the plan's job order. */
export function jobTypesByConsumer(plan: TopologyPlan): Map<string, string[]> {
  const byConsumer = new Map<string, string[]>(plan.consumers.map((consumer) => [consumer.name, []]));
  for (const job of plan.jobs) {
    for (const consumer of consumersReachedBy(plan, job)) byConsumer.get(consumer)?.push(job.type);
  }
  return byConsumer;
}

function queuesReached(plan: TopologyPlan, exchange: string, routingKey: string): Set<string> {
  const queues = new Set<string>();
  const visited = new Set<string>();
  const visit = (name: string) => {
    if (visited.has(name)) return;
    visited.add(name);
    const type = exchangeType(plan, name);
    let matched = false;
    for (const binding of plan.bindings) {
      if (binding.source !== name || !bindingMatches(type, binding.routingKey, routingKey)) continue;
      matched = true;
      if (binding.destinationType === 'queue') queues.add(binding.destination);
      else visit(binding.destination);
    }
    const alternate = plan.exchanges.find((e) => e.name === name)?.arguments['alternate-exchange'];
    if (!matched && typeof alternate === 'string') visit(alternate);
  };
  visit(exchange);
  return queues;
}

function exchangeType(plan: TopologyPlan, name: string): ExchangeType | undefined {
  return plan.exchanges.find((exchange) => exchange.name === name)?.type ?? BUILTIN_EXCHANGES.get(name);
}

function bindingMatches(type: ExchangeType | undefined, bindingKey: string, routingKey: string): boolean {
  switch (type) {
    case 'topic':
      return topicMatches(bindingKey, routingKey);
    case 'direct':
      return bindingKey === routingKey;
    // fanout and consistent-hash take every message (the hash picks one of
    // the bound queues); headers depends on message headers we cannot see
    // (a sharded consumer's shard exchange: the job's shard header picks one).
    default:
      return true;
  }
}

/** AMQP topic matching: words split on `.`, `*` is exactly one word, `#` zero or more. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const pat = pattern.split('.');
  const key = routingKey.split('.');
  const match = (p: number, k: number): boolean => {
    if (p === pat.length) return k === key.length;
    const word = pat[p];
    if (word === '#') {
      for (let skip = k; skip <= key.length; skip++) if (match(p + 1, skip)) return true;
      return false;
    }
    if (k === key.length) return false;
    return (word === '*' || word === key[k]) && match(p + 1, k + 1);
  };
  return match(0, 0);
}
