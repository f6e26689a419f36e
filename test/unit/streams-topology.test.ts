import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffTopology, hasConflicts } from '../../src/topology/diff.ts';
import { normaliseLive, type LiveTopology } from '../../src/topology/inspect.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { maxAgeArgument } from '../../src/streams/stream-plan.ts';

function planOf(text: string): TopologyPlan {
  const result = parseTopology(text, 'streams.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value.plan;
}

const fixture = () => readFileSync('test/fixtures/topology/streams.yaml', 'utf8');

/** The vhost as the management API would show it after `plan` was applied. */
function liveOf(plan: TopologyPlan): LiveTopology {
  return normaliseLive('v', {
    exchanges: plan.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, auto_delete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
    queues: plan.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments })),
    bindings: plan.bindings.map((b) => ({
      source: b.source,
      destination: b.destination,
      destination_type: b.destinationType,
      routing_key: b.routingKey,
      arguments: b.arguments,
    })),
  });
}

describe('streams in the topology file', () => {
  it('compiles a stream to N durable stream queues behind a direct exchange routed by p<i>', () => {
    const plan = planOf(fixture());
    expect(plan.exchanges).toContainEqual({ name: 'order-events', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} });
    const queues = plan.queues.filter((q) => q.type === 'stream');
    expect(queues.map((q) => q.name)).toEqual(['order-events.p0', 'order-events.p1', 'order-events.p2', 'order-events.p3']);
    expect(queues[0]).toEqual({
      name: 'order-events.p0',
      type: 'stream',
      durable: true,
      autoDelete: false,
      arguments: {
        'x-queue-type': 'stream',
        'x-max-age': '7D',
        'x-max-length-bytes': 2_000_000_000,
        'x-stream-max-segment-size-bytes': 100_000_000,
      },
    });
    expect(plan.bindings.filter((b) => b.source === 'order-events').map((b) => `${b.routingKey}->${b.destination}`)).toEqual([
      'p0->order-events.p0',
      'p1->order-events.p1',
      'p2->order-events.p2',
      'p3->order-events.p3',
    ]);
    expect(plan.streams).toEqual([
      {
        name: 'order-events',
        partitions: 4,
        exchange: 'order-events',
        queues: ['order-events.p0', 'order-events.p1', 'order-events.p2', 'order-events.p3'],
        retention: { maxAgeMs: 7 * 86_400_000, maxLengthBytes: 2_000_000_000 },
        segmentSizeBytes: 100_000_000,
      },
    ]);
    expect(plan.events?.map((e) => [e.type, e.stream, e.key])).toEqual([
      ['order.paid', 'order-events', 'orderId'],
      ['order.placed', 'order-events', 'orderId'],
    ]);
  });

  it('refuses an event on an unknown stream, a sub-second maxAge, and a name claimed twice', () => {
    const bad = parseTopology(
      'streams:\n  s:\n    partitions: 2\n    retention: { maxAge: 1500ms }\nevents:\n  e: { stream: nope, key: id }\n',
      'bad.yaml',
    );
    expect(bad.ok).toBe(false);
    const messages = bad.ok ? [] : bad.issues.map((i) => i.message).join('\n');
    expect(messages).toMatch(/unknown stream "nope"/);
    expect(messages).toMatch(/whole number of seconds/);
    const clash = parseTopology('queues:\n  s.p0: { type: classic }\nstreams:\n  s: { partitions: 1 }\n', 'clash.yaml');
    expect(clash.ok).toBe(false);
    expect(clash.ok ? '' : clash.issues.map((i) => i.message).join('\n')).toMatch(/duplicate name: queue s\.p0/);
  });

  it('diffs an applied stream as unchanged, and a different partition count as a conflict with the migration', () => {
    const plan = planOf(fixture());
    const same = diffTopology(plan, liveOf(plan));
    expect(hasConflicts(same)).toBe(false);
    expect(same.changes.filter((c) => c.action !== 'unchanged')).toEqual([]);

    const grown = planOf(fixture().replace('partitions: 4', 'partitions: 6'));
    const diff = diffTopology(grown, liveOf(plan));
    expect(hasConflicts(diff)).toBe(true);
    expect(diff.changes).toContainEqual({ action: 'conflict', kind: 'stream', name: 'order-events', diff: { partitions: { old: 4, new: 6 } } });
    expect(diff.warnings.join('\n')).toMatch(/moves most keys to another partition.*Migrate instead/);

    const shrunk = planOf(fixture().replace('partitions: 4', 'partitions: 2'));
    expect(diffTopology(shrunk, liveOf(plan)).changes).toContainEqual(
      expect.objectContaining({ action: 'conflict', kind: 'stream', diff: { partitions: { old: 4, new: 2 } } }),
    );
  });

  it('writes x-max-age in RabbitMQ units', () => {
    expect(maxAgeArgument(7 * 86_400_000)).toBe('7D');
    expect(maxAgeArgument(90 * 60_000)).toBe('90m');
    expect(maxAgeArgument(1_000)).toBe('1s');
    expect(() => maxAgeArgument(1_500)).toThrow(RangeError);
  });
});
