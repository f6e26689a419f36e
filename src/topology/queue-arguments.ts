import type { Arguments } from './plan.ts';

/**
 * Pure: a queue's options as the `x-…` arguments RabbitMQ is declared with.
 * Shared by the compiler (what is declared) and the schema (what is checked
 * against the broker's limits), so both see the same table.
 */

export interface QueueArgumentOptions {
  type: 'classic' | 'quorum';
  maxLength?: number | undefined;
  maxLengthBytes?: number | undefined;
  overflow?: string | undefined;
  messageTtl?: number | undefined;
  expires?: number | undefined;
  singleActiveConsumer?: boolean | undefined;
  deliveryLimit?: number | undefined;
  maxPriority?: number | undefined;
  leaderLocator: 'balanced' | 'client-local' | 'broker-default';
  /** Raw arguments; they win over the options. */
  arguments: Arguments;
}

export function queueArguments(options: QueueArgumentOptions): Arguments {
  const args: Arguments = {};
  if (options.type === 'quorum') args['x-queue-type'] = 'quorum';
  if (options.maxLength !== undefined) args['x-max-length'] = options.maxLength;
  if (options.maxLengthBytes !== undefined) args['x-max-length-bytes'] = options.maxLengthBytes;
  if (options.overflow !== undefined) args['x-overflow'] = options.overflow;
  if (options.messageTtl !== undefined) args['x-message-ttl'] = options.messageTtl;
  if (options.expires !== undefined) args['x-expires'] = options.expires;
  if (options.singleActiveConsumer !== undefined) args['x-single-active-consumer'] = options.singleActiveConsumer;
  if (options.deliveryLimit !== undefined) args['x-delivery-limit'] = options.deliveryLimit;
  if (options.maxPriority !== undefined) args['x-max-priority'] = options.maxPriority;
  Object.assign(args, leaderLocatorArguments(options.type, options.leaderLocator));
  return { ...args, ...options.arguments };
}

/**
 * RabbitMQ 3.10 names the placement argument differently per queue type:
 * quorum queues take `x-queue-leader-locator` (`balanced`, `client-local`),
 * classic queues `x-queue-master-locator`, where `min-masters` is the
 * balanced choice (3.10 refuses the leader-locator argument on a classic
 * queue, and closes the connection on `x-queue-master-locator: balanced`).
 */
export function leaderLocatorArguments(type: 'classic' | 'quorum', locator: QueueArgumentOptions['leaderLocator']): Arguments {
  if (locator === 'broker-default') return {};
  if (type === 'quorum') return { 'x-queue-leader-locator': locator };
  return { 'x-queue-master-locator': locator === 'balanced' ? 'min-masters' : 'client-local' };
}
