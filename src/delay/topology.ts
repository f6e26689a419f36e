import type { Arguments, BindingPlan, DelaysPlan, ExchangePlan, QueuePlan } from '../topology/plan.ts';
import { leaderLocatorArguments } from '../topology/queue-arguments.ts';
import {
  DELAY_LEVELS,
  DELAY_TICK_MS,
  delayLevelNames,
  landingBindingKey,
  levelBindingKeys,
  levelTtlMs,
  MAX_DELAY_MS,
} from './levels.ts';

/**
 * Pure: the broker objects of the delay levels, for the compiler. Nothing
 * at all when no job type takes delays; otherwise the levels (one topic
 * exchange and one queue each), the deliver exchange, and one landing
 * queue per job type that takes delays.
 */

export interface DelaysOptions {
  queueType: 'classic' | 'quorum';
  leaderLocator: 'balanced' | 'client-local' | 'broker-default';
}

export interface DelayedJobType {
  type: string;
  exchange: string;
  routingKey: string;
}

export interface DelayObjects {
  plan: DelaysPlan;
  exchanges: ExchangePlan[];
  /** Each with the job type it lands (undefined for the shared levels), to report a clash where it comes from. */
  queues: Array<{ queue: QueuePlan; jobType: string | undefined }>;
  bindings: BindingPlan[];
}

export function delayObjects(jobTypes: readonly DelayedJobType[], options: DelaysOptions): DelayObjects | undefined {
  if (jobTypes.length === 0) return undefined;
  const exchanges: ExchangePlan[] = [];
  const queues: DelayObjects['queues'] = [];
  const bindings: BindingPlan[] = [];
  const queue = (name: string, args: Arguments): QueuePlan => ({
    name,
    type: options.queueType,
    durable: true,
    autoDelete: false,
    arguments: { ...(options.queueType === 'quorum' && { 'x-queue-type': 'quorum' }), ...leaderLocatorArguments(options.queueType, options.leaderLocator), ...args, ...reliableDeadLettering(options.queueType) },
  });

  for (let level = DELAY_LEVELS - 1; level >= 0; level--) {
    const name = delayLevelNames.level(level);
    const next = level > 0 ? delayLevelNames.level(level - 1) : delayLevelNames.deliver;
    const keys = levelBindingKeys(level);
    exchanges.push(topic(name));
    // No dead-letter routing key: the message keeps its delay key, which the next level reads.
    queues.push({ queue: queue(name, { 'x-message-ttl': levelTtlMs(level), 'x-dead-letter-exchange': next }), jobType: undefined });
    bindings.push({ source: name, destination: name, destinationType: 'queue', routingKey: keys.toQueue, arguments: {} });
    bindings.push({ source: name, destination: next, destinationType: 'exchange', routingKey: keys.toNext, arguments: {} });
  }
  exchanges.push(topic(delayLevelNames.deliver));
  for (const jobType of jobTypes) {
    const landing = delayLevelNames.landing(jobType.type);
    // TTL 0: the message is dead-lettered on arrival, to the job type's
    // exchange under the job type's routing key — routed by the live
    // bindings, at due time, exactly as an immediate enqueue is.
    queues.push({
      queue: queue(landing, { 'x-message-ttl': 0, 'x-dead-letter-exchange': jobType.exchange, 'x-dead-letter-routing-key': jobType.routingKey }),
      jobType: jobType.type,
    });
    bindings.push({ source: delayLevelNames.deliver, destination: landing, destinationType: 'queue', routingKey: landingBindingKey(jobType.type), arguments: {} });
  }
  return {
    plan: { queueType: options.queueType, tickMs: DELAY_TICK_MS, levels: DELAY_LEVELS, maxDelayMs: MAX_DELAY_MS },
    exchanges,
    queues,
    bindings,
  };
}

/**
 * As the retry tiers: a quorum delay queue keeps an expired message until
 * the next queue has confirmed it (at-least-once dead-lettering, which
 * needs overflow reject-publish; without a length limit that never rejects),
 * so a delayed job is not lost to a restart between two levels.
 */
function reliableDeadLettering(type: 'classic' | 'quorum'): Arguments {
  return type === 'quorum' ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } : {};
}

function topic(name: string): ExchangePlan {
  return { name, type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} };
}
