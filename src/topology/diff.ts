import type { LiveBinding, LiveTopology } from './inspect.ts';
import { HEADERS, shardHeader } from '../message/headers.ts';
import { partitionCountConflicts } from '../streams/partition-diff.ts';
import { bindingName, type Arguments, type BindingPlan, type ConsumerPlan, type TopologyPlan } from './plan.ts';

/**
 * Pure: the plan against what the broker has. Each plan object is `create`
 * (missing), `unchanged` (equivalent) or `conflict` (present but different:
 * declaring it would fail with a 406 or silently keep the old settings).
 * Objects on the broker that the plan does not name are left alone.
 */

export type ChangeAction = 'create' | 'unchanged' | 'conflict';
export type ChangeKind = 'exchange' | 'queue' | 'binding' | 'stream';

/** One differing property: `old` is on the broker, `new` is in the file. */
export interface PropertyDiff {
  old: unknown;
  new: unknown;
}

export interface Change {
  action: ChangeAction;
  kind: ChangeKind;
  /** A binding's name is `source -> destination [routing key]`. */
  name: string;
  /** For conflicts, every differing property (`durable`, `arguments.x-message-ttl`, …); empty otherwise. */
  diff: Record<string, PropertyDiff>;
}

export interface TopologyDiff {
  changes: Change[];
  warnings: string[];
}

export function diffTopology(plan: TopologyPlan, live: LiveTopology): TopologyDiff {
  const exchanges = new Map(live.exchanges.map((e) => [e.name, e]));
  const queues = new Map(live.queues.map((q) => [q.name, q]));
  const changes: Change[] = [];

  for (const exchange of plan.exchanges) {
    const current = exchanges.get(exchange.name);
    const diff = current && {
      ...compareFields(current, exchange, ['type', 'durable', 'autoDelete', 'internal']),
      ...compareArguments(current.arguments, exchange.arguments),
    };
    changes.push(change('exchange', exchange.name, diff));
  }
  for (const queue of plan.queues) {
    const current = queues.get(queue.name);
    const { 'x-queue-type': _type, ...desiredArgs } = queue.arguments;
    const diff = current && {
      ...compareFields(current, queue, ['type', 'durable', 'autoDelete']),
      ...compareArguments(current.arguments, desiredArgs),
    };
    changes.push(change('queue', queue.name, diff));
  }
  const hashExchanges = new Set(plan.exchanges.filter((e) => e.type === 'x-consistent-hash').map((e) => e.name));
  for (const binding of plan.bindings) {
    changes.push(bindingChange(binding, live.bindings, hashExchanges.has(binding.source)));
  }
  // A stream's partition count is fixed once created: a different count is a conflict, with the migration as a warning.
  const partitionConflicts = partitionCountConflicts(plan.streams ?? [], live);
  for (const conflict of partitionConflicts) {
    changes.push({ action: 'conflict', kind: 'stream', name: conflict.stream, diff: { partitions: { old: conflict.live, new: conflict.wanted } } });
  }
  return {
    changes,
    warnings: [
      ...partitionConflicts.map((conflict) => conflict.migration),
      ...typeChangeWarnings(plan, queues),
      ...plan.consumers.flatMap((consumer) => hashExchangeWarnings(consumer, exchanges)),
      ...classicOnClusterWarnings(plan, live.nodeCount),
      ...plan.consumers.flatMap((consumer) => shardWarnings(consumer, live)),
    ],
  };
}

/** A queue's type is fixed when it is created: say what to do instead of redeclaring. */
function typeChangeWarnings(plan: TopologyPlan, live: ReadonlyMap<string, LiveTopology['queues'][number]>): string[] {
  return plan.queues.flatMap((queue) => {
    const current = live.get(queue.name);
    if (current === undefined || current.type === queue.type) return [];
    return [
      `queue ${queue.name} is ${current.type} on the broker and ${queue.type} in the file: RabbitMQ cannot change a queue's type ` +
        'in place. Migrate it (README, "Changing a queue\'s type": new queue, move the messages, swap; never delete a queue that ' +
        `holds messages), or keep it ${current.type} by saying so in the file`,
    ];
  });
}

/**
 * A sharded consumer's exchange was an x-consistent-hash exchange before
 * warren picked shards itself. Its type is a CONFLICT like any other (an
 * exchange's type is fixed); this says how to move on.
 */
function hashExchangeWarnings(consumer: ConsumerPlan, live: ReadonlyMap<string, LiveTopology['exchanges'][number]>): string[] {
  if (consumer.shards === undefined) return [];
  const { exchange, count } = consumer.shards;
  const current = live.get(exchange);
  if (current === undefined || current.type !== 'x-consistent-hash') return [];
  return [
    `consumer ${consumer.name}: ${exchange} is an x-consistent-hash exchange on the broker and a headers exchange in the file — ` +
      `warren now picks each key's shard itself (${shardHeader(count)}), so the mapping no longer changes across a broker restart, ` +
      'but RabbitMQ cannot change an exchange\'s type. Keys move to another shard once: first run producers of this version ' +
      '(the old exchange ignores the new header), drain the shard queues if per-key order must hold across the switch, ' +
      `then delete the exchange (rabbitmqctl delete_exchange ${exchange}; the shard queues and their messages stay) and apply at once ` +
      '(README, "Moving a sharded consumer off x-consistent-hash")',
  ];
}

/**
 * On a cluster a classic queue lives on one node: while that node is down
 * the queue is gone, and a publish routed to it as well as to a queue on
 * another node is still confirmed, so the copy meant for it is lost.
 */
function classicOnClusterWarnings(plan: TopologyPlan, nodeCount: number | undefined): string[] {
  if (nodeCount === undefined || nodeCount < 2) return [];
  const classic = plan.queues.filter((q) => q.type === 'classic').map((q) => q.name);
  if (classic.length === 0) return [];
  const listed = classic.length > 8 ? `${classic.slice(0, 8).join(', ')} and ${classic.length - 8} more` : classic.join(', ');
  return [
    `${classic.length} classic queue${classic.length === 1 ? '' : 's'} on a ${nodeCount}-node cluster (${listed}): a classic queue is not ` +
      'replicated, so while its node is down it takes no messages and a publish routed to it and to another queue is still ' +
      'confirmed without it; use type: quorum for anything that must survive a node loss',
  ];
}

export function hasConflicts(diff: Pick<TopologyDiff, 'changes'>): boolean {
  return diff.changes.some((c) => c.action === 'conflict');
}

function change(kind: ChangeKind, name: string, diff: Record<string, PropertyDiff> | undefined): Change {
  if (diff === undefined) return { action: 'create', kind, name, diff: {} };
  return { action: Object.keys(diff).length > 0 ? 'conflict' : 'unchanged', kind, name, diff };
}

function compareFields<K extends string>(
  current: Record<K, unknown>,
  desired: Record<K, unknown>,
  fields: K[],
): Record<string, PropertyDiff> {
  const diff: Record<string, PropertyDiff> = {};
  for (const field of fields) {
    if (current[field] !== desired[field]) diff[field] = { old: current[field], new: desired[field] };
  }
  return diff;
}

/** Every argument set on either side that differs; a missing one reads as `null`. */
function compareArguments(current: Record<string, unknown>, desired: Arguments): Record<string, PropertyDiff> {
  const diff: Record<string, PropertyDiff> = {};
  const keys = [...new Set([...Object.keys(current), ...Object.keys(desired)])].sort();
  for (const key of keys) {
    const old = current[key] ?? null;
    const wanted = desired[key] ?? null;
    if (!sameValue(old, wanted)) diff[`arguments.${key}`] = { old, new: wanted };
  }
  return diff;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A binding exists or it does not, except on a consistent-hash exchange,
 * where the routing key is the queue's weight: the same queue bound with
 * another weight is a conflict (changing it re-maps keys to shards).
 */
function bindingChange(binding: BindingPlan, live: LiveBinding[], weighted: boolean): Change {
  const name = bindingName(binding);
  const sameEnds = live.filter(
    (b) =>
      b.source === binding.source &&
      b.destination === binding.destination &&
      b.destinationType === binding.destinationType &&
      sameValue(sortedArgs(b.arguments), sortedArgs(binding.arguments)),
  );
  if (sameEnds.some((b) => b.routingKey === binding.routingKey)) return { action: 'unchanged', kind: 'binding', name, diff: {} };
  const reweighted = weighted ? sameEnds[0] : undefined;
  if (reweighted !== undefined) {
    return { action: 'conflict', kind: 'binding', name, diff: { weight: { old: reweighted.routingKey, new: binding.routingKey } } };
  }
  return { action: 'create', kind: 'binding', name, diff: {} };
}

function sortedArgs(args: Record<string, unknown>): [string, unknown][] {
  return Object.entries(args).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * `hash(key) mod N`: a different shard count sends some keys to another
 * shard, so messages of one key already queued can be overtaken by newer
 * ones on their new shard. Bindings of the old count stay (apply never
 * deletes), and a job that still carries the old count's header (another
 * consumer has that count, or an old producer) would reach two shards.
 */
function shardWarnings(consumer: ConsumerPlan, live: LiveTopology): string[] {
  if (consumer.shards === undefined) return [];
  const workQueue = (consumer.queues[0] ?? '').replace(/\.shard\.0$/, '');
  const shardName = new RegExp(`^${escapeRegExp(workQueue)}\\.shard\\.(\\d+)$`);
  const liveIndices = new Set<number>();
  for (const queue of live.queues) {
    const match = shardName.exec(queue.name);
    if (match) liveIndices.add(Number(match[1]));
  }
  const bound = live.bindings.filter((b) => b.source === consumer.shards?.exchange && b.destinationType === 'queue');
  for (const binding of bound) {
    const match = shardName.exec(binding.destination);
    if (match) liveIndices.add(Number(match[1]));
  }
  const wanted = consumer.shards.count;
  const warnings: string[] = [];
  if (liveIndices.size > 0 && liveIndices.size !== wanted) {
    warnings.push(
      `consumer ${consumer.name}: ${wanted} shards in the file, ${liveIndices.size} on the broker — ` +
        'changing the shard count re-maps ordering keys to other shards, so a key\'s queued messages may be ' +
        'processed out of order with its new ones; drain the shard queues before applying',
    );
  }
  const current = shardHeader(wanted);
  const oldCount = bound.filter((b) => Object.keys(b.arguments).some((key) => key.startsWith(HEADERS.shardPrefix) && key !== current));
  if (oldCount.length > 0) {
    warnings.push(
      `consumer ${consumer.name}: ${[...new Set(oldCount.map((b) => b.destination))].sort().join(', ')} stay bound to ${consumer.shards.exchange} ` +
        `on another shard count than ${current} (apply never deletes): a job still carrying that count's header (an older producer, ` +
        'another consumer with that count) reaches them, and one carrying both headers reaches two shards; ' +
        'delete those bindings, let leftover shard queues drain, then delete them',
    );
  }
  return warnings;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
