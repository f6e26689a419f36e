import type { TopologyPlan } from './plan.ts';

/**
 * Pure: a plan as RabbitMQ definitions JSON, the format of
 * `rabbitmqctl import_definitions` and of the management UI's import. Every
 * object names its vhost (the definitions format has no default), and the
 * vhost itself is listed so an import on a fresh broker creates it.
 */

export interface Definitions {
  rabbit_version?: string;
  vhosts: { name: string }[];
  exchanges: {
    name: string;
    vhost: string;
    type: string;
    durable: boolean;
    auto_delete: boolean;
    internal: boolean;
    arguments: Record<string, unknown>;
  }[];
  queues: { name: string; vhost: string; durable: boolean; auto_delete: boolean; arguments: Record<string, unknown> }[];
  bindings: {
    source: string;
    vhost: string;
    destination: string;
    destination_type: 'queue' | 'exchange';
    routing_key: string;
    arguments: Record<string, unknown>;
  }[];
}

export function exportDefinitions(plan: TopologyPlan, vhost: string): Definitions {
  return {
    vhosts: [{ name: vhost }],
    exchanges: plan.exchanges.map((e) => ({
      name: e.name,
      vhost,
      type: e.type,
      durable: e.durable,
      auto_delete: e.autoDelete,
      internal: e.internal,
      arguments: { ...e.arguments },
    })),
    queues: plan.queues.map((q) => ({
      name: q.name,
      vhost,
      durable: q.durable,
      auto_delete: q.autoDelete,
      // `x-queue-type` is already in a quorum queue's arguments; a classic
      // queue without it imports as classic.
      arguments: { ...q.arguments },
    })),
    bindings: plan.bindings.map((b) => ({
      source: b.source,
      vhost,
      destination: b.destination,
      destination_type: b.destinationType,
      routing_key: b.routingKey,
      arguments: { ...b.arguments },
    })),
  };
}
