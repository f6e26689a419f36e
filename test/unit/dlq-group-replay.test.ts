import { describe, expect, it } from 'vitest';
import { ReplayTargetError } from '../../src/dlq/errors.ts';
import { placementOf, refusalOf, replayRouteFor } from '../../src/dlq/replay-target.ts';
import { republishOptions } from '../../src/dlq/replay.ts';
import { formatTarget } from '../../src/dlq/report.ts';
import { assertDeadLetterQueue } from '../../src/dlq/target.ts';
import { deadLetterHeaders, HEADERS } from '../../src/message/headers.ts';
import { groupDeadLetterQueue, groupDeadLetterQueueOf, replayedForGroup, STREAM_HEADERS } from '../../src/streams/group-dlq.ts';
import { parseTopology } from '../../src/topology/load.ts';

// Issue 15, poison records: a group's DLQ `<stream>.<group>.dlq` replays back into the stream, for that group only.
const parsed = parseTopology(
  `version: 1
exchanges: { orders: { type: topic } }
queues:
  ledger: { type: quorum, bindings: [{ exchange: orders, routingKey: "#" }] }
  # A work queue whose name looks like a group DLQ of "log": never taken for one.
  log.audit.dlq: { type: quorum, bindings: [{ exchange: orders, routingKey: "audit" }] }
consumers:
  inventory: { source: { exchange: orders, pattern: "order.*" } }
streams:
  log: { partitions: 4, retention: { maxAge: 1d } }
  app.events: { partitions: 2, retention: { maxAge: 1d } }
  app.events.v2: { partitions: 3, retention: { maxAge: 1d } }
`,
  't.yaml',
);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const plan = parsed.value.plan;
const now = new Date('2026-11-30T10:00:00Z');

/** A dead letter's headers as the stream worker of `group` writes them. */
function groupDeadLetter(group: string, partition: unknown, offset = 17): Record<string, unknown> {
  return {
    ...deadLetterHeaders({ [HEADERS.orderingKey]: 'k-1' }, {
      reason: 'attempts-exhausted',
      error: { class: 'TypeError', message: 'cannot apply' },
      attempts: 5,
      worker: 'm-1',
      consumer: group,
      deliveredFrom: { exchange: 'log', routingKey: `p${String(partition)}` },
      now,
    }),
    [STREAM_HEADERS.partition]: partition,
    [STREAM_HEADERS.offset]: offset,
    [STREAM_HEADERS.group]: group,
  };
}

describe('group DLQ names', () => {
  it('splits <stream>.<group>.dlq on a stream the plan knows, dots allowed in both', () => {
    expect(groupDeadLetterQueue('log', 'billing')).toBe('log.billing.dlq');
    expect(groupDeadLetterQueueOf(plan.streams, 'log.billing.dlq')).toMatchObject({ kind: 'group', stream: { name: 'log' }, group: 'billing' });
    expect(groupDeadLetterQueueOf(plan.streams, 'log.eu.billing.dlq')).toMatchObject({ kind: 'group', group: 'eu.billing' });
    expect(groupDeadLetterQueueOf(plan.streams, 'app.events.audit.dlq')).toMatchObject({ kind: 'group', stream: { name: 'app.events' }, group: 'audit' });
    // "app.events" + group "v2.audit", or "app.events.v2" + group "audit": the name cannot tell.
    expect(groupDeadLetterQueueOf(plan.streams, 'app.events.v2.audit.dlq')).toMatchObject({ kind: 'ambiguous' });
    for (const name of ['log.dlq', 'log..dlq', 'logs.billing.dlq', 'log.billing', 'other.billing.dlq']) {
      expect(groupDeadLetterQueueOf(plan.streams, name), name).toBeUndefined();
    }
  });

  it('a group DLQ is a DLQ of the topology; a declared queue of that shape is not', () => {
    expect(() => assertDeadLetterQueue('log.billing.dlq', plan)).not.toThrow();
    expect(() => assertDeadLetterQueue('log.audit.dlq', plan)).toThrow(/not a dead-letter queue of the topology/);
    expect(() => assertDeadLetterQueue('other.billing.dlq', plan)).toThrow(/<stream>\.<group>\.dlq of a consumer group of "app.events", "app.events.v2", "log"/);
    expect(() => assertDeadLetterQueue('log.p0', plan)).toThrow(/not a dead-letter queue/);
  });

  it('reads the replay-for-group header as text', () => {
    expect(replayedForGroup({ [STREAM_HEADERS.replayForGroup]: 'billing' })).toBe('billing');
    expect(replayedForGroup({ [STREAM_HEADERS.replayForGroup]: Buffer.from('billing') })).toBe('billing');
    expect(replayedForGroup({})).toBeUndefined();
    expect(replayedForGroup(undefined)).toBeUndefined();
  });
});

describe('replay route of a group DLQ', () => {
  it('goes back into the stream exchange, each record to the partition it came from, marked for its group', () => {
    const route = replayRouteFor(plan, 'log.billing.dlq');
    expect(route.target).toEqual({ kind: 'group', exchange: 'log', routingKey: '', group: 'billing' });
    expect(route.group).toEqual({ name: 'billing', stream: 'log', partitions: 4 });
    expect(formatTarget(route.target)).toBe('exchange log (each record to its partition, for group billing)');
    const headers = groupDeadLetter('billing', 3);
    expect(refusalOf(route, headers)).toBeUndefined();
    expect(placementOf(route, headers)).toEqual({ routingKey: 'p3', headers: { [STREAM_HEADERS.replayForGroup]: 'billing' } });
    // As text too (a header set by another client).
    expect(placementOf(route, groupDeadLetter('billing', '2')).routingKey).toBe('p2');
  });

  it('the copy keeps its id and the record position, loses the failure context, and gains the group mark', () => {
    const route = replayRouteFor(plan, 'log.billing.dlq');
    const headers = groupDeadLetter('billing', 1, 42);
    const options = republishOptions({ content: Buffer.from('{"key":"k-1"}'), properties: { headers, messageId: 'e-13', type: 'tick' } as never });
    const copy = { ...options.headers, ...placementOf(route, headers).headers };
    expect(options.messageId).toBe('e-13');
    expect(copy).toMatchObject({ [STREAM_HEADERS.replayForGroup]: 'billing', [STREAM_HEADERS.offset]: 42, [STREAM_HEADERS.partition]: 1, [HEADERS.replays]: 1, [HEADERS.orderingKey]: 'k-1' });
    expect(copy[HEADERS.errorMessage]).toBeUndefined();
    expect(copy[HEADERS.consumer]).toBeUndefined();
  });

  it("refuses another group's dead letters and those it cannot place, one by one", () => {
    const route = replayRouteFor(plan, 'log.billing.dlq');
    expect(refusalOf(route, groupDeadLetter('audit', 1))).toMatch(/dead-lettered by group "audit", not by "billing" whose DLQ this is/);
    expect(refusalOf(route, groupDeadLetter('billing', 4))).toMatch(/x-warren-stream-partition "4" is not a partition of "log" \(0…3\)/);
    expect(refusalOf(route, groupDeadLetter('billing', -1))).toMatch(/is not a partition of "log"/);
    expect(refusalOf(route, groupDeadLetter('billing', 'p1'))).toMatch(/is not a partition of "log"/);
    expect(refusalOf(route, { [HEADERS.reason]: 'attempts-exhausted' })).toMatch(/no x-warren-stream-partition header: cannot place it back in the stream/);
    // No group header (not written by a stream worker), but a partition: it goes back, for this group.
    expect(refusalOf(route, { [STREAM_HEADERS.partition]: 0 })).toBeUndefined();
    expect(() => placementOf(route, {})).toThrow(ReplayTargetError);
  });

  it('cannot tell whose an ambiguous name is: refused, nothing published', () => {
    expect(() => replayRouteFor(plan, 'app.events.v2.audit.dlq')).toThrow(/could be the DLQ of a group of "app.events" and "app.events.v2"/);
    expect(replayRouteFor(plan, 'app.events.v2.audit.dlq', { to: 'ledger' }).target).toEqual({ kind: 'to', exchange: '', routingKey: 'ledger' });
  });

  it('--to: a queue of the topology as elsewhere, never a stream partition unless forced', () => {
    expect(replayRouteFor(plan, 'log.billing.dlq', { to: 'ledger' }).target).toEqual({ kind: 'to', exchange: '', routingKey: 'ledger' });
    expect(() => replayRouteFor(plan, 'log.billing.dlq', { to: 'log.p2' })).toThrow(/partition of the stream "log": every group of the stream would apply the copy/);
    expect(() => replayRouteFor(plan, 'inventory.dlq', { to: 'log.p2' })).toThrow(/partition of the stream "log"/);
    expect(replayRouteFor(plan, 'log.billing.dlq', { to: 'log.p2', force: true }).target.routingKey).toBe('log.p2');
  });

  it('other DLQs keep their routes and their fixed routing key', () => {
    const route = replayRouteFor(plan, 'inventory.dlq');
    expect(route.group).toBeUndefined();
    expect(placementOf(route, {})).toEqual({ routingKey: 'inventory', headers: {} });
  });
});
