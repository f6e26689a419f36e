import { beforeAll, describe, expect, it } from 'vitest';
import { DlqInputError, DlqQueueError, ReplayTargetError } from '../../src/dlq/errors.ts';
import { placementOf, refusalOf, replayRouteFor } from '../../src/dlq/replay-target.ts';
import { republishOptions } from '../../src/dlq/replay.ts';
import { deadLetterHeaders, HEADERS, jobHeaders } from '../../src/message/headers.ts';
import { stableHash } from '../../src/message/key-hash.ts';
import { loadTopology, parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';

// Where a replay goes is decided by the topology alone (issue 10 item 1, issue 11 item 5).
let orders: TopologyPlan;
beforeAll(async () => {
  orders = (await loadTopology('topology/orders.yaml')).plan;
});

const now = new Date('2024-05-01T10:00:00Z');
/** A dead letter's headers as the worker of `consumer` writes them, with origin headers that may be forged. */
function deadLetter(consumer: string, origin = { exchange: 'orders', routingKey: 'order.created' }, orderingKey?: string) {
  return deadLetterHeaders(jobHeaders({ ...origin, orderingKey, now }), {
    reason: 'non-retryable',
    error: { class: 'E', message: 'm' },
    attempts: 1,
    worker: 'w',
    consumer,
    deliveredFrom: origin,
    now,
  });
}

describe('replay target from the topology', () => {
  it("a consumer's DLQ goes back to that consumer's work queue only, through the default exchange", () => {
    for (const consumer of ['inventory', 'loyalty', 'recommendation', 'warehouse', 'fraud-audit']) {
      expect(replayRouteFor(orders, `${consumer}.dlq`).target, consumer).toEqual({ kind: 'consumer', exchange: '', routingKey: consumer });
    }
  });

  it("a sharded consumer's DLQ goes through its own shard exchange, the shard computed again from the ordering key", () => {
    const route = replayRouteFor(orders, 'payments.dlq');
    expect(route.target).toEqual({ kind: 'consumer', exchange: 'payments.shard', routingKey: '' });
    expect(route.shards).toBe(4);
    for (const key of ['o-1', 'o-2', 'o-3', 'customer-ü', '42']) {
      expect(placementOf(route, deadLetter('payments', undefined, key))).toEqual({ routingKey: '', headers: { 'x-warren-shard-4': String(stableHash(key) % 4) } });
    }
    // A dead letter from before warren picked shards has no shard header; one with a stale value is placed by its key.
    const stale = { ...deadLetter('payments', undefined, 'o-1'), 'x-warren-shard-4': '9', [HEADERS.orderingKey]: Buffer.from('o-1') };
    expect(placementOf(route, stale).headers).toEqual({ 'x-warren-shard-4': String(stableHash('o-1') % 4) });
    expect(placementOf(route, { [HEADERS.orderingKey]: 7 }).headers).toEqual({ 'x-warren-shard-4': String(stableHash('7') % 4) });
  });

  it('forged origin headers change nothing: the target is a function of the DLQ name and the plan', () => {
    const route = replayRouteFor(orders, 'inventory.dlq');
    const forged = deadLetter('inventory', { exchange: 'orders.all', routingKey: 'payments' });
    expect(refusalOf(route, forged)).toBeUndefined();
    expect(route.target).toEqual({ kind: 'consumer', exchange: '', routingKey: 'inventory' });
  });

  it("a plain quorum queue's derived <queue>.dlq goes back to that queue", () => {
    const parsed = parseTopology('version: 1\nqueues:\n  ledger: { type: quorum }\n', 'inline.yaml');
    if (!parsed.ok) throw new Error('fixture');
    expect(replayRouteFor(parsed.value.plan, 'ledger.dlq').target).toEqual({ kind: 'queue', exchange: '', routingKey: 'ledger' });
    expect(() => replayRouteFor(parsed.value.plan, 'other.dlq')).toThrow(DlqQueueError);
  });

  it('without a topology there is no derived target: replay needs --topology, or --to with --force', () => {
    expect(() => replayRouteFor(undefined, 'inventory.dlq')).toThrow(DlqInputError);
    expect(() => replayRouteFor(undefined, 'inventory.dlq', { to: 'inventory' })).toThrow(/cannot be checked.*--force/);
    expect(replayRouteFor(undefined, 'inventory.dlq', { to: 'scratch', force: true }).target).toEqual({ kind: 'to', exchange: '', routingKey: 'scratch' });
  });
});

describe('explicit --to', () => {
  it('accepts a queue of the topology that is not a shard queue', () => {
    expect(replayRouteFor(orders, 'inventory.dlq', { to: 'warehouse' }).target).toEqual({ kind: 'to', exchange: '', routingKey: 'warehouse' });
    expect(replayRouteFor(orders, 'inventory.dlq', { to: 'inventory.retry.10s' }).target.routingKey).toBe('inventory.retry.10s');
  });

  it('refuses shard queues and queues outside the topology, naming what --force would bypass', () => {
    expect(() => replayRouteFor(orders, 'payments.dlq', { to: 'payments.shard.2' })).toThrow(/shard queue of "payments".*bypasses "payments.shard".*--force/);
    expect(() => replayRouteFor(orders, 'inventory.dlq', { to: 'debug' })).toThrow(/not a queue of the topology.*--force/);
    expect(() => replayRouteFor(orders, 'inventory.dlq', { to: 'debug' })).toThrow(ReplayTargetError);
    expect(replayRouteFor(orders, 'payments.dlq', { to: 'payments.shard.2', force: true }).target.routingKey).toBe('payments.shard.2');
    expect(replayRouteFor(orders, 'inventory.dlq', { to: 'debug', force: true }).target.routingKey).toBe('debug');
  });

  it('never the DLQ being replayed, even with --force', () => {
    expect(() => replayRouteFor(orders, 'inventory.dlq', { to: 'inventory.dlq', force: true })).toThrow(/is the DLQ being replayed/);
  });

  it('an explicit target skips the per-message consumer check (a person chose it)', () => {
    const route = replayRouteFor(orders, 'inventory.dlq', { to: 'warehouse' });
    expect(refusalOf(route, deadLetter('payments'))).toBeUndefined();
  });
});

describe('per-message refusals', () => {
  it("refuses a message dead-lettered by another consumer, or by one the topology no longer has", () => {
    const route = replayRouteFor(orders, 'inventory.dlq');
    expect(refusalOf(route, deadLetter('inventory'))).toBeUndefined();
    expect(refusalOf(route, deadLetter('payments'))).toMatch(/consumer "payments" \(which has its own DLQ\), not by "inventory"/);
    expect(refusalOf(route, deadLetter('billing-v1'))).toMatch(/consumer "billing-v1" \(which is not in the topology\)/);
    expect(refusalOf(route, { ...deadLetter('inventory'), [HEADERS.consumer]: Buffer.from('ghost') })).toMatch(/"ghost"/);
  });

  it('messages the broker dead-lettered itself carry no consumer header and are replayed', () => {
    const route = replayRouteFor(orders, 'inventory.dlq');
    expect(refusalOf(route, { 'x-first-death-queue': 'inventory', 'x-first-death-reason': 'expired' })).toBeUndefined();
    expect(refusalOf(route, undefined)).toBeUndefined();
  });

  it('a sharded target refuses a message without an ordering key: there is no shard to place it on', () => {
    const route = replayRouteFor(orders, 'payments.dlq');
    expect(refusalOf(route, deadLetter('payments', undefined, 'o-1'))).toBeUndefined();
    expect(refusalOf(route, deadLetter('payments'))).toMatch(/no x-warren-ordering-key header/);
  });
});

describe('replayed copies', () => {
  it('keep body and properties, reset the failure context, and are persistent without a per-message expiration', () => {
    const headers = deadLetter('inventory');
    const options = republishOptions({
      content: Buffer.from('{}'),
      properties: { messageId: 'j-1', type: 'order.created', contentType: 'application/json', deliveryMode: 1, expiration: '3000', headers, correlationId: 'c-1' } as never,
    });
    expect(options).toMatchObject({ messageId: 'j-1', type: 'order.created', contentType: 'application/json', correlationId: 'c-1', persistent: true });
    expect(options.expiration).toBeUndefined();
    expect(options.deliveryMode).toBeUndefined();
    expect(options.headers).toMatchObject({ [HEADERS.attempt]: 1, [HEADERS.replays]: 1, [HEADERS.originExchange]: 'orders' });
    expect(options.headers?.[HEADERS.consumer]).toBeUndefined();
  });

  it('a message without an id gets the id a worker would derive from its body', () => {
    const a = republishOptions({ content: Buffer.from('{"a":1}'), properties: { headers: {} } as never });
    const b = republishOptions({ content: Buffer.from('{"a":1}'), properties: { headers: {} } as never });
    expect(a.messageId).toMatch(/^sha256:/);
    expect(a.messageId).toBe(b.messageId);
  });
});
