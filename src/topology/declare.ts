import { connect, type Channel } from 'amqplib';
import { WarrenError } from '../errors.ts';
import { bindingName, type TopologyPlan } from './plan.ts';

/**
 * Declares every object of a plan on one channel, in dependency order
 * (exchanges, queues, then bindings). It does not check for conflicts: a
 * differing object closes the channel with a 406, so callers that face a
 * live broker go through `apply`, which validates, diffs and checks
 * permissions first and declares nothing when anything would fail. Tests
 * use this directly on fresh vhosts.
 */
export async function declarePlan(channel: Channel, plan: TopologyPlan): Promise<void> {
  const total = plan.exchanges.length + plan.queues.length + plan.bindings.length;
  let declared = 0;
  const step = async (kind: RefusedKind, name: string, declare: () => Promise<unknown>) => {
    try {
      await declare();
    } catch (error) {
      throw new DeclarationRefusedError(kind, name, brokerReason(error), declared, total, error);
    }
    declared += 1;
  };
  for (const exchange of plan.exchanges) {
    await step('exchange', exchange.name, () =>
      channel.assertExchange(exchange.name, exchange.type, {
        durable: exchange.durable,
        autoDelete: exchange.autoDelete,
        internal: exchange.internal,
        arguments: exchange.arguments,
      }),
    );
  }
  for (const queue of plan.queues) {
    await step('queue', queue.name, () =>
      channel.assertQueue(queue.name, { durable: queue.durable, autoDelete: queue.autoDelete, arguments: queue.arguments }),
    );
  }
  for (const binding of plan.bindings) {
    await step('binding', bindingName(binding), () =>
      binding.destinationType === 'queue'
        ? channel.bindQueue(binding.destination, binding.source, binding.routingKey, binding.arguments)
        : channel.bindExchange(binding.destination, binding.source, binding.routingKey, binding.arguments),
    );
  }
}

/** Opens a short-lived connection to `url` and declares the plan. */
export async function declarePlanAt(url: string, plan: TopologyPlan): Promise<void> {
  const connection = await connect(url);
  // A refused declaration closes the channel (and amqplib re-emits it on the
  // connection): without listeners that is an uncaught 'error' event, i.e. a
  // crash with a stack trace instead of the refusal the caller reports.
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await declarePlan(channel, plan);
    await channel.close();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export type RefusedKind = 'exchange' | 'queue' | 'binding';

/** The broker refused one declaration of a plan; `declared` objects before it were declared. */
export class DeclarationRefusedError extends WarrenError {
  constructor(
    readonly kind: RefusedKind,
    readonly objectName: string,
    readonly reason: string,
    readonly declared: number,
    readonly total: number,
    brokerError?: unknown,
  ) {
    super(
      'TOPOLOGY_REFUSED',
      `the broker refused to declare ${kind} "${objectName}": ${reason}; ` +
        (declared === 0
          ? 'nothing was declared'
          : `${declared} of ${total} objects were declared before it (apply only creates what is missing, so apply again once this is fixed)`),
      { cause: brokerError },
    );
  }
}

/** Pure: amqplib's text → the broker's own words (`ACCESS_REFUSED - …`), on one line. */
export function brokerReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /with message "([^"]+)"/.exec(message)?.[1];
  return (quoted ?? message).replace(/\s+/g, ' ').trim();
}
