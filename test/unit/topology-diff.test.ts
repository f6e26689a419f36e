import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffTopology, hasConflicts } from '../../src/topology/diff.ts';
import { exportDefinitions } from '../../src/topology/export.ts';
import { normaliseLive, type LiveTopology, type RawBinding, type RawExchange, type RawQueue } from '../../src/topology/inspect.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { brokerReason } from '../../src/topology/declare.ts';
import { permissionProblems } from '../../src/topology/permissions.ts';
import { diffFromPreconditionFailed } from '../../src/topology/probe.ts';

function ordersPlan(): TopologyPlan {
  const result = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
  if (!result.ok) throw new Error('orders.yaml must be valid');
  return result.value.plan;
}

/** What the management API would answer for a vhost where `plan` was applied. */
function rawOf(plan: TopologyPlan): { exchanges: RawExchange[]; queues: RawQueue[]; bindings: RawBinding[] } {
  const defs = exportDefinitions(plan, 'v');
  return {
    exchanges: [
      { name: '', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} },
      ...defs.exchanges,
    ],
    // 3.10 reports every queue's type; classic queues have no x-queue-type argument.
    queues: plan.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments })),
    bindings: [
      ...plan.queues.map((q) => ({ source: '', destination: q.name, destination_type: 'queue', routing_key: q.name, arguments: {} })),
      ...defs.bindings,
    ],
  };
}

const live = (plan: TopologyPlan): LiveTopology => normaliseLive('v', rawOf(plan));
const empty: LiveTopology = { vhost: 'v', vhostExists: false, exchanges: [], queues: [], bindings: [] };

describe('diffTopology', () => {
  it('creates everything on an empty vhost', () => {
    const plan = ordersPlan();
    const { changes, warnings } = diffTopology(plan, empty);
    expect(changes.every((c) => c.action === 'create')).toBe(true);
    expect(changes).toHaveLength(plan.exchanges.length + plan.queues.length + plan.bindings.length);
    expect(warnings).toEqual([]);
  });

  it('finds nothing to do where the plan was applied (defaults, x-queue-type and default bindings normalised)', () => {
    const plan = ordersPlan();
    const diff = diffTopology(plan, live(plan));
    expect(diff.changes.filter((c) => c.action !== 'unchanged')).toEqual([]);
    expect(hasConflicts(diff)).toBe(false);
  });

  it('reads a classic queue declared with an explicit x-queue-type as unchanged', () => {
    const plan = ordersPlan();
    const raw = rawOf(plan);
    raw.queues = raw.queues.map((q) => (q.type === 'classic' ? { ...q, arguments: { ...q.arguments, 'x-queue-type': 'classic' } } : q));
    expect(hasConflicts(diffTopology(plan, normaliseLive('v', raw)))).toBe(false);
  });

  it('reports a changed argument as old vs new', () => {
    const plan = ordersPlan();
    const current = live(plan);
    const retry = current.queues.find((q) => q.name === 'inventory.retry.1s');
    if (!retry) throw new Error('missing inventory.retry.1s');
    retry.arguments['x-message-ttl'] = 2_000;
    const conflicts = diffTopology(plan, current).changes.filter((c) => c.action === 'conflict');
    expect(conflicts).toEqual([
      { action: 'conflict', kind: 'queue', name: 'inventory.retry.1s', diff: { 'arguments.x-message-ttl': { old: 2_000, new: 1_000 } } },
    ]);
  });

  it('reports an argument only one side has, and a differing type or flag', () => {
    const plan = ordersPlan();
    const current = live(plan);
    const inventory = current.queues.find((q) => q.name === 'inventory');
    const loyalty = current.queues.find((q) => q.name === 'loyalty');
    const orders = current.exchanges.find((e) => e.name === 'orders');
    if (!inventory || !loyalty || !orders) throw new Error('fixture');
    inventory.arguments['x-max-length'] = 10;
    loyalty.type = 'classic';
    orders.durable = false;
    const byName = new Map(diffTopology(plan, current).changes.map((c) => [c.name, c]));
    expect(byName.get('inventory')?.diff).toEqual({ 'arguments.x-max-length': { old: 10, new: null } });
    expect(byName.get('loyalty')?.diff).toEqual({ type: { old: 'classic', new: 'quorum' } });
    expect(byName.get('orders')?.diff).toEqual({ durable: { old: false, new: true } });
  });

  it('treats a re-weighted consistent-hash binding as a conflict, a missing binding as create', () => {
    const result = parseTopology(readFileSync('test/fixtures/topology/everything.json', 'utf8'), 'everything.json');
    if (!result.ok) throw new Error('everything.json must be valid');
    const plan = result.value.plan;
    const current = live(plan);
    const weighted = current.bindings.find((b) => b.source === 'by-customer' && b.destination === 'ledger');
    if (!weighted) throw new Error('fixture');
    weighted.routingKey = '3';
    current.bindings = current.bindings.filter((b) => b.destination !== 'urgent');
    const byName = new Map(diffTopology(plan, current).changes.map((c) => [c.name, c]));
    expect(byName.get('by-customer -> ledger [1]')).toMatchObject({ action: 'conflict', diff: { weight: { old: '3', new: '1' } } });
    expect(byName.get('matching -> urgent []')?.action).toBe('create');
  });

  it("binds each shard queue on its own x-warren-shard-<N> value; a shard binding with another value is not this one", () => {
    const plan = ordersPlan();
    const shardBindings = plan.bindings.filter((b) => b.source === 'payments.shard');
    expect(shardBindings.map((b) => [b.destination, b.routingKey, b.arguments])).toEqual(
      [0, 1, 2, 3].map((i) => [`payments.shard.${i}`, '', { 'x-match': 'all-with-x', 'x-warren-shard-4': String(i) }]),
    );
    const current = live(plan);
    const shard0 = current.bindings.find((b) => b.destination === 'payments.shard.0');
    if (!shard0) throw new Error('fixture');
    shard0.arguments = { 'x-match': 'all-with-x', 'x-warren-shard-4': '1' };
    const byName = new Map(diffTopology(plan, current).changes.map((c) => [c.name, c]));
    expect(byName.get('payments.shard -> payments.shard.0 []')?.action).toBe('create');
    expect(byName.get('payments.shard -> payments.shard.1 []')?.action).toBe('unchanged');
  });

  it('a shard exchange that is x-consistent-hash on the broker is a CONFLICT, with the migration as a warning', () => {
    const plan = ordersPlan();
    const current = live(plan);
    const exchange = current.exchanges.find((e) => e.name === 'payments.shard');
    if (!exchange) throw new Error('fixture');
    exchange.type = 'x-consistent-hash';
    exchange.arguments = { 'hash-header': 'x-warren-ordering-key' };
    const diff = diffTopology(plan, current);
    expect(diff.changes.find((c) => c.name === 'payments.shard')).toEqual({
      action: 'conflict',
      kind: 'exchange',
      name: 'payments.shard',
      diff: {
        type: { old: 'x-consistent-hash', new: 'headers' },
        'arguments.alternate-exchange': { old: null, new: 'payments.dlx' },
        'arguments.hash-header': { old: 'x-warren-ordering-key', new: null },
      },
    });
    expect(hasConflicts(diff)).toBe(true);
    expect(diff.warnings).toEqual([
      expect.stringMatching(/^consumer payments: payments\.shard is an x-consistent-hash exchange on the broker .*x-warren-shard-4.*delete_exchange payments\.shard.*Moving a sharded consumer off x-consistent-hash/),
    ]);
  });

  it('warns when the shard count changes, and names shard queues left bound on the old count', () => {
    const current = live(ordersPlan());
    const sixShards = ordersPlan();
    const payments = sixShards.consumers.find((c) => c.name === 'payments');
    if (!payments?.shards) throw new Error('fixture');
    payments.shards.count = 6;
    const more = diffTopology(sixShards, current).warnings;
    expect(more).toEqual([
      expect.stringContaining('6 shards in the file, 4 on the broker'),
      expect.stringContaining('payments.shard.0, payments.shard.1, payments.shard.2, payments.shard.3 stay bound to payments.shard on another shard count than x-warren-shard-6'),
    ]);

    const twoShards = ordersPlan();
    const fewer = twoShards.consumers.find((c) => c.name === 'payments');
    if (!fewer?.shards) throw new Error('fixture');
    fewer.shards.count = 2;
    const warnings = diffTopology(twoShards, current).warnings;
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain('payments.shard.0, payments.shard.1, payments.shard.2, payments.shard.3 stay bound to payments.shard');
  });

  it('warns about bindings of an old shard count even once the queue count matches again', () => {
    const plan = ordersPlan();
    const current = live(plan);
    current.bindings.push({ source: 'payments.shard', destination: 'payments.shard.1', destinationType: 'queue', routingKey: '', arguments: { 'x-match': 'all-with-x', 'x-warren-shard-2': '1' } });
    expect(diffTopology(plan, current).warnings).toEqual([expect.stringContaining('payments.shard.1 stay bound to payments.shard on another shard count than x-warren-shard-4')]);
  });

  it('does not warn about shards on a first apply', () => {
    expect(diffTopology(ordersPlan(), empty).warnings).toEqual([]);
  });

  it('a classic queue on the broker that the file wants quorum is a CONFLICT with a migration warning', () => {
    const plan = ordersPlan();
    const current = live(plan);
    // As an older warren declared it: classic, no type or placement argument.
    const inventory = current.queues.find((q) => q.name === 'inventory');
    if (!inventory) throw new Error('fixture');
    inventory.type = 'classic';
    delete inventory.arguments['x-queue-leader-locator'];
    const diff = diffTopology(plan, current);
    expect(diff.changes.filter((c) => c.action === 'conflict')).toEqual([
      {
        action: 'conflict',
        kind: 'queue',
        name: 'inventory',
        diff: { type: { old: 'classic', new: 'quorum' }, 'arguments.x-queue-leader-locator': { old: null, new: 'balanced' } },
      },
    ]);
    expect(diff.warnings).toEqual([expect.stringMatching(/^queue inventory is classic on the broker and quorum in the file: .*Changing a queue's type.*never delete a queue that holds messages/)]);
  });

  it('reads the type from the management API\'s `type`, whatever x-queue-type says', () => {
    const plan = ordersPlan();
    const raw = rawOf(plan);
    raw.queues = raw.queues.map((q) => (q.name === 'loyalty' ? { ...q, type: 'classic', arguments: { ...q.arguments, 'x-queue-type': 'quorum' } } : q));
    const loyalty = diffTopology(plan, normaliseLive('v', raw)).changes.find((c) => c.name === 'loyalty');
    expect(loyalty).toMatchObject({ action: 'conflict', diff: { type: { old: 'classic', new: 'quorum' } } });
  });

  it('warns about classic queues only when the broker has more than one node', () => {
    const classic = parseTopology(
      'exchanges:\n  e: { type: topic }\nconsumers:\n  cache: { source: { exchange: e }, queueOptions: { type: classic }, retry: { delays: [1s] } }\n',
      'classic.yaml',
    );
    if (!classic.ok) throw new Error('fixture');
    const onNodes = (nodeCount: number | undefined, plan: TopologyPlan) => diffTopology(plan, { ...empty, ...(nodeCount !== undefined && { nodeCount }) }).warnings;
    expect(onNodes(3, classic.value.plan)).toEqual([
      expect.stringMatching(/^3 classic queues on a 3-node cluster \(cache, cache\.dlq, cache\.retry\.1s\): a classic queue is not replicated/),
    ]);
    expect(onNodes(1, classic.value.plan)).toEqual([]);
    expect(onNodes(undefined, classic.value.plan)).toEqual([]);
    expect(onNodes(3, ordersPlan())).toEqual([]);
  });
});

describe('permissionProblems', () => {
  const plan = ordersPlan();
  const all = { configure: '.*', write: '.*', read: '.*' };

  it('finds nothing with full permissions, and cannot judge a pattern JavaScript does not read', () => {
    expect(permissionProblems(plan, all, 'guest')).toEqual([]);
    expect(permissionProblems(plan, { ...all, read: '(?<unclosed' }, 'guest')).toBeUndefined();
  });

  it('needs configure on every exchange and queue declared (an empty pattern is no access)', () => {
    const problems = permissionProblems(plan, { ...all, configure: '^(orders|inventory)' }, 'app') ?? [];
    const named = new Set(problems.map((p) => `${p.kind} ${p.name}`));
    expect(named.has('exchange orders')).toBe(false);
    expect(named.has('queue inventory.dlq')).toBe(false);
    expect(named.has('queue loyalty')).toBe(true);
    expect(named.has('exchange payments.shard')).toBe(true);
    expect(problems.find((p) => p.name === 'loyalty')?.message).toBe(
      'user "app" has no configure permission on queue "loyalty" (its configure pattern is "^(orders|inventory)")',
    );
    expect((permissionProblems(plan, { ...all, configure: '' }, 'app') ?? []).length).toBe(plan.exchanges.length + plan.queues.length);
  });

  it('needs write on the dead-letter exchange (amq.default for the default exchange) and on binding destinations, read on sources', () => {
    const problems = permissionProblems(plan, { ...all, write: '^(inventory|orders\\.all)$' }, 'app') ?? [];
    expect(problems).toContainEqual(expect.objectContaining({ kind: 'queue', name: 'inventory.retry.1s', message: expect.stringContaining('write permission on exchange "amq.default"') }));
    expect(problems).toContainEqual(expect.objectContaining({ kind: 'queue', name: 'inventory', message: expect.stringContaining('write permission on exchange "inventory.dlx"') }));
    expect(problems).toContainEqual(expect.objectContaining({ kind: 'binding', name: 'loyalty.dlx -> loyalty.dlq []' }));
    expect(problems.some((p) => p.name === 'orders -> orders.all [#]')).toBe(false);
    const noRead = permissionProblems(plan, { ...all, read: '^$' }, 'app') ?? [];
    expect(noRead).toContainEqual(expect.objectContaining({ kind: 'binding', name: 'orders -> inventory [order.*]', message: expect.stringContaining('read permission on exchange "orders"') }));
  });
});

describe('brokerReason', () => {
  it('keeps the broker\'s own words on one line', () => {
    const error = new Error('Operation failed: QueueDeclare; 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - queue name \'amq.x\' contains reserved prefix \'amq.*\'"');
    expect(brokerReason(error)).toBe("ACCESS_REFUSED - queue name 'amq.x' contains reserved prefix 'amq.*'");
    expect(brokerReason(new TypeError("Field 'queue' is the wrong type;\n must be a string (up to 255 chars)"))).toBe(
      "Field 'queue' is the wrong type; must be a string (up to 255 chars)",
    );
  });
});

describe('diffFromPreconditionFailed', () => {
  it('names the argument of an inequivalent-arg 406', () => {
    const error = new Error(
      "Channel closed by server: 406 (PRECONDITION-FAILED) with message \"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost 'v': received the value '2000' of type 'signedint' but current is the value '1000' of type 'signedint'\"",
    );
    expect(diffFromPreconditionFailed(error)).toEqual({ 'arguments.x-message-ttl': { old: '1000', new: '2000' } });
  });

  it('keeps the broker text for other 406s', () => {
    const error = new Error('Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - cannot redeclare exchange \'x\'"');
    expect(diffFromPreconditionFailed(error)).toEqual({ declaration: { old: "cannot redeclare exchange 'x'", new: 'as in the file' } });
  });
});

describe('exportDefinitions', () => {
  it('puts the vhost on every object and keeps the plan\'s arguments', () => {
    const plan = ordersPlan();
    const defs = exportDefinitions(plan, 'shop');
    expect(defs.vhosts).toEqual([{ name: 'shop' }]);
    expect([...defs.exchanges, ...defs.queues, ...defs.bindings].every((o) => o.vhost === 'shop')).toBe(true);
    expect(defs.queues.find((q) => q.name === 'loyalty')?.arguments).toMatchObject({ 'x-queue-type': 'quorum' });
    expect(defs.bindings).toHaveLength(plan.bindings.length);
  });
});
