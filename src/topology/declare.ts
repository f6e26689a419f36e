import { connect, type Channel } from 'amqplib';
import type { TopologyPlan } from './plan.ts';

/**
 * Declares every object of a plan on one channel, in dependency order
 * (exchanges, queues, then bindings). It does not check for conflicts: a
 * differing object closes the channel with a 406, so callers that face a
 * live broker go through `apply`, which diffs first and declares nothing
 * when anything conflicts. Tests use this directly on fresh vhosts.
 */
export async function declarePlan(channel: Channel, plan: TopologyPlan): Promise<void> {
  for (const exchange of plan.exchanges) {
    await channel.assertExchange(exchange.name, exchange.type, {
      durable: exchange.durable,
      autoDelete: exchange.autoDelete,
      internal: exchange.internal,
      arguments: exchange.arguments,
    });
  }
  for (const queue of plan.queues) {
    await channel.assertQueue(queue.name, {
      durable: queue.durable,
      autoDelete: queue.autoDelete,
      arguments: queue.arguments,
    });
  }
  for (const binding of plan.bindings) {
    if (binding.destinationType === 'queue') {
      await channel.bindQueue(binding.destination, binding.source, binding.routingKey, binding.arguments);
    } else {
      await channel.bindExchange(binding.destination, binding.source, binding.routingKey, binding.arguments);
    }
  }
}

/** Opens a short-lived connection to `url` and declares the plan. */
export async function declarePlanAt(url: string, plan: TopologyPlan): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    await declarePlan(channel, plan);
    await channel.close();
  } finally {
    await connection.close();
  }
}
