import { encodeVhost, type ManagementClient } from '../broker/management.ts';
import type { ArgumentValue } from './plan.ts';

/**
 * What a vhost really has, read through the management HTTP API and brought
 * to the plan's shape, so `diffTopology` compares like with like.
 */

/** Live argument values may be anything the broker stored (tables, arrays…). */
export type LiveArguments = Record<string, ArgumentValue | unknown>;

export interface LiveExchange {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: LiveArguments;
}

export interface LiveQueue {
  name: string;
  /** `classic`, `quorum` or `stream`: from the queue's type, never from its arguments. */
  type: string;
  durable: boolean;
  autoDelete: boolean;
  /** Declared arguments, without `x-queue-type` (that is `type`). */
  arguments: LiveArguments;
}

export interface LiveBinding {
  source: string;
  destination: string;
  destinationType: 'queue' | 'exchange';
  routingKey: string;
  arguments: LiveArguments;
}

export interface LiveTopology {
  vhost: string;
  vhostExists: boolean;
  /** Nodes in the cluster (running or not), when known: classic queues are not replicated across them. */
  nodeCount?: number;
  exchanges: LiveExchange[];
  queues: LiveQueue[];
  bindings: LiveBinding[];
}

/** The management API's JSON, only the fields we read. */
export interface RawExchange {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments?: Record<string, unknown>;
}
export interface RawQueue {
  name: string;
  type?: string;
  durable: boolean;
  auto_delete: boolean;
  arguments?: Record<string, unknown>;
}
export interface RawBinding {
  source: string;
  destination: string;
  destination_type: string;
  routing_key: string;
  arguments?: Record<string, unknown>;
}

/** Reads every exchange, queue and binding of `vhost` (an absent vhost reads as empty). */
export async function inspectVhost(management: ManagementClient, vhost: string): Promise<LiveTopology> {
  const v = encodeVhost(vhost);
  const nodeCount = await countNodes(management);
  const exists = await vhostExists(management, vhost);
  const known = nodeCount !== undefined ? { nodeCount } : {};
  if (!exists) return { vhost, vhostExists: false, ...known, exchanges: [], queues: [], bindings: [] };
  const [exchanges, queues, bindings] = await Promise.all([
    management.get<RawExchange[]>(`/exchanges/${v}?columns=name,type,durable,auto_delete,internal,arguments`),
    management.get<RawQueue[]>(`/queues/${v}?columns=name,type,durable,auto_delete,arguments`),
    management.get<RawBinding[]>(`/bindings/${v}`),
  ]);
  return { ...normaliseLive(vhost, { exchanges: exchanges ?? [], queues: queues ?? [], bindings: bindings ?? [] }), ...known };
}

/**
 * `/api/vhosts/<v>` is for administrators only; a user with the management
 * tag learns the same from its exchanges (every vhost has the amq.* ones; a
 * missing vhost is a 404).
 */
export async function vhostExists(management: ManagementClient, vhost: string): Promise<boolean> {
  const v = encodeVhost(vhost);
  try {
    return (await management.get<unknown>(`/vhosts/${v}`)) !== undefined;
  } catch {
    return (await management.get<unknown>(`/exchanges/${v}?columns=name`)) !== undefined;
  }
}

/**
 * The cluster's nodes as the management API lists them (stopped members
 * included). `undefined` when the user may not read them (`/api/nodes`
 * needs the monitoring tag): the multi-node warning is then not given.
 */
async function countNodes(management: ManagementClient): Promise<number | undefined> {
  try {
    const nodes = await management.get<unknown[]>('/nodes?columns=name');
    return Array.isArray(nodes) ? nodes.length : undefined;
  } catch {
    return undefined;
  }
}

/** Pure: management API JSON → the plan's shape. */
export function normaliseLive(
  vhost: string,
  raw: { exchanges: RawExchange[]; queues: RawQueue[]; bindings: RawBinding[] },
): LiveTopology {
  return {
    vhost,
    vhostExists: true,
    // The default exchange cannot be declared or bound; it is never in a plan.
    exchanges: raw.exchanges.filter((e) => e.name !== '').map(normaliseExchange),
    queues: raw.queues.map(normaliseQueue),
    // Every queue's implicit binding from the default exchange is not ours either.
    bindings: raw.bindings.filter((b) => b.source !== '').map(normaliseBinding),
  };
}

function normaliseExchange(raw: RawExchange): LiveExchange {
  return {
    name: raw.name,
    type: raw.type,
    durable: raw.durable,
    autoDelete: raw.auto_delete,
    internal: raw.internal,
    arguments: { ...(raw.arguments ?? {}) },
  };
}

function normaliseQueue(raw: RawQueue): LiveQueue {
  const { 'x-queue-type': declaredType, ...args } = raw.arguments ?? {};
  // 3.10 reports `type` for every queue; older brokers only had the argument.
  const type = raw.type ?? (typeof declaredType === 'string' ? declaredType : 'classic');
  return { name: raw.name, type, durable: raw.durable, autoDelete: raw.auto_delete, arguments: args };
}

function normaliseBinding(raw: RawBinding): LiveBinding {
  return {
    source: raw.source,
    destination: raw.destination,
    destinationType: raw.destination_type === 'exchange' ? 'exchange' : 'queue',
    routingKey: raw.routing_key,
    arguments: { ...(raw.arguments ?? {}) },
  };
}
