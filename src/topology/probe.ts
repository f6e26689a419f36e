import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { Change, PropertyDiff } from './diff.ts';
import { bindingName, type TopologyPlan } from './plan.ts';

/**
 * The fallback when the management API is unreachable: ask the broker over
 * AMQP. Each exchange and queue gets a throwaway channel of its own: a
 * passive declare says whether it exists (a 404 closes only that channel),
 * then an existing object is redeclared as planned, which changes nothing
 * when it is equivalent and fails with a 406 (again closing only that
 * channel) when it is not. Missing objects are never declared here.
 *
 * Not checked this way: arguments RabbitMQ does not compare on redeclare,
 * whether bindings exist (they are reported as `create`; binding is
 * idempotent), and shard-count changes.
 */
export const PROBE_LIMITS = [
  'bindings: whether each already exists (declaring a binding again is harmless)',
  'arguments that RabbitMQ does not compare when an object is redeclared',
  'shard-count changes of sharded consumers (keys re-mapped to shards)',
] as const;

export async function probeOverAmqp(url: string, plan: TopologyPlan): Promise<Change[]> {
  const connection = await connect(url);
  // A 406 is a channel error, but keep a stray connection error from crashing us.
  connection.on('error', () => undefined);
  try {
    const changes: Change[] = [];
    for (const exchange of plan.exchanges) {
      changes.push(
        await probeObject(connection, 'exchange', exchange.name, async (channel) => {
          await channel.checkExchange(exchange.name);
          return () =>
            channel.assertExchange(exchange.name, exchange.type, {
              durable: exchange.durable,
              autoDelete: exchange.autoDelete,
              internal: exchange.internal,
              arguments: exchange.arguments,
            });
        }),
      );
    }
    for (const queue of plan.queues) {
      changes.push(
        await probeObject(connection, 'queue', queue.name, async (channel) => {
          await channel.checkQueue(queue.name);
          return () => channel.assertQueue(queue.name, { durable: queue.durable, autoDelete: queue.autoDelete, arguments: queue.arguments });
        }),
      );
    }
    for (const binding of plan.bindings) {
      changes.push({ action: 'create', kind: 'binding', name: bindingName(binding), diff: {} });
    }
    return changes;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** `exists` resolves if the object exists (returning its redeclare) and rejects with a 404 if not. */
async function probeObject(
  connection: ChannelModel,
  kind: 'exchange' | 'queue',
  name: string,
  exists: (channel: Channel) => Promise<() => Promise<unknown>>,
): Promise<Change> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    let redeclare: () => Promise<unknown>;
    try {
      redeclare = await exists(channel);
    } catch (error) {
      if (amqpCode(error) === 404) return { action: 'create', kind, name, diff: {} };
      throw error;
    }
    try {
      await redeclare();
      return { action: 'unchanged', kind, name, diff: {} };
    } catch (error) {
      if (amqpCode(error) === 406) return { action: 'conflict', kind, name, diff: diffFromPreconditionFailed(error) };
      throw error;
    }
  } finally {
    await channel.close().catch(() => undefined);
  }
}

function amqpCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** Pure: the broker's 406 text → `{ 'arguments.x': { old, new } }` when it names the argument. */
export function diffFromPreconditionFailed(error: unknown): Record<string, PropertyDiff> {
  const message = error instanceof Error ? error.message : String(error);
  const arg = /inequivalent arg '([^']+)'.*received (?:the value )?'([^']*)'.*current is (?:the value )?'([^']*)'/.exec(message);
  if (arg) return { [`arguments.${arg[1]}`]: { old: arg[3], new: arg[2] } };
  const detail = /PRECONDITION_FAILED - ([^"]+)/.exec(message)?.[1] ?? message;
  return { declaration: { old: detail, new: 'as in the file' } };
}
