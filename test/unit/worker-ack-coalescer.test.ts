import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckCoalescer } from '../../src/broker/ack-coalescer.ts';

/**
 * A model of the broker's side of one channel: the unacked set, and what an
 * ack (single or multiple) removes from it. The coalescer's plan is applied
 * to it and checked against what the worker settled.
 */
type Op = { kind: 'receive' } | { kind: 'ready'; pick: number } | { kind: 'nack'; pick: number } | { kind: 'flush' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'receive' } as const) },
  { weight: 3, arbitrary: fc.nat(1_000).map((pick) => ({ kind: 'ready', pick }) as const) },
  { weight: 1, arbitrary: fc.nat(1_000).map((pick) => ({ kind: 'nack', pick }) as const) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' } as const) },
);

describe('AckCoalescer', () => {
  it('never acks a delivery that is not settled as done, nor a nacked one, and acks every settled one at the next flush', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 5 }), (ops, step) => {
        const coalescer = new AckCoalescer();
        const unacked = new Set<number>(); // the broker's view
        const ready = new Set<number>(); // settled as done, not yet acked
        const nacked = new Set<number>();
        const acked = new Set<number>();
        let next = 1;
        const flush = () => {
          const plan = coalescer.flush();
          const covered = new Set<number>(plan.singles);
          if (plan.upTo !== undefined) for (const tag of unacked) if (tag <= plan.upTo) covered.add(tag);
          for (const tag of covered) {
            // The safety property: everything an ack covers was settled as done.
            expect(ready.has(tag)).toBe(true);
            expect(nacked.has(tag)).toBe(false);
            expect(acked.has(tag)).toBe(false);
            expect(unacked.has(tag)).toBe(true);
            unacked.delete(tag);
            acked.add(tag);
          }
          // Liveness: nothing settled waits past a flush.
          for (const tag of ready) expect(acked.has(tag)).toBe(true);
          ready.clear();
          // A multiple ack is only ever the settled run at the front.
          if (plan.upTo !== undefined) for (const single of plan.singles) expect(single).toBeGreaterThan(plan.upTo);
        };
        for (const o of ops) {
          const open = [...unacked].filter((tag) => !ready.has(tag));
          if (o.kind === 'receive') {
            coalescer.received(next);
            unacked.add(next);
            next += step; // tags only grow, not necessarily by one
          } else if (o.kind === 'ready' && open.length > 0) {
            const tag = open[o.pick % open.length] as number;
            coalescer.ready(tag);
            ready.add(tag);
          } else if (o.kind === 'nack' && open.length > 0) {
            const tag = open[o.pick % open.length] as number;
            coalescer.removed(tag);
            unacked.delete(tag);
            nacked.add(tag);
          } else if (o.kind === 'flush') flush();
        }
        flush();
        expect(coalescer.pending).toBe(unacked.size);
      }),
      { numRuns: 2_000 },
    );
  });

  it('coalesces a run settled in order into one multiple ack', () => {
    const coalescer = new AckCoalescer();
    for (let tag = 1; tag <= 5; tag++) coalescer.received(tag);
    for (let tag = 1; tag <= 5; tag++) coalescer.ready(tag);
    expect(coalescer.flush()).toEqual({ upTo: 5, singles: [] });
  });

  it('acks behind a running delivery one by one, and the running one never', () => {
    const coalescer = new AckCoalescer();
    for (let tag = 1; tag <= 5; tag++) coalescer.received(tag);
    for (const tag of [1, 2, 4, 5]) coalescer.ready(tag);
    expect(coalescer.flush()).toEqual({ upTo: 2, singles: [4, 5] });
    expect(coalescer.pending).toBe(1);
    coalescer.ready(3);
    expect(coalescer.flush()).toEqual({ upTo: 3, singles: [] });
  });

  it('lets a nacked delivery out of the run without covering it', () => {
    const coalescer = new AckCoalescer();
    for (let tag = 1; tag <= 3; tag++) coalescer.received(tag);
    coalescer.removed(2);
    coalescer.ready(1);
    coalescer.ready(3);
    expect(coalescer.flush()).toEqual({ upTo: 3, singles: [] });
  });

  it('refuses tags that do not grow', () => {
    const coalescer = new AckCoalescer();
    coalescer.received(2);
    expect(() => coalescer.received(2)).toThrow(RangeError);
  });
});
