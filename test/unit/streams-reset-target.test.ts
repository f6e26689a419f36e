import { describe, expect, it } from 'vitest';
import { committedBefore, parseResetTarget, ResetTargetError } from '../../src/streams/reset-target.ts';
import { lagOf } from '../../src/streams/group-admin.ts';

const now = new Date('2026-11-30T10:00:00Z');

describe('stream reset targets', () => {
  it('reads first, last, offsets, ISO times and durations ago', () => {
    expect(parseResetTarget('first', now)).toEqual({ kind: 'first' });
    expect(parseResetTarget('last', now)).toEqual({ kind: 'last' });
    expect(parseResetTarget('1234', now)).toEqual({ kind: 'offset', offset: 1234 });
    expect(parseResetTarget('2026-11-30T08:30:00Z', now)).toEqual({ kind: 'time', at: new Date('2026-11-30T08:30:00Z') });
    expect(parseResetTarget('2h ago', now)).toEqual({ kind: 'time', at: new Date('2026-11-30T08:00:00Z') });
    expect(parseResetTarget('30m', now)).toEqual({ kind: 'time', at: new Date('2026-11-30T09:30:00Z') });
  });

  it('refuses anything else with the accepted forms', () => {
    for (const bad of ['yesterday', '-5', '2h before', '2026-13-45', '99999999999999999999']) {
      expect(() => parseResetTarget(bad, now), bad).toThrow(ResetTargetError);
    }
    expect(() => parseResetTarget('soon', now)).toThrow(/first, last, an offset/);
  });

  it('commits one before the restart offset, -1 meaning before everything', () => {
    expect(committedBefore(10)).toBe(9);
    expect(committedBefore(0)).toBe(-1);
  });

  it('computes lag from the end offset and the committed one', () => {
    expect(lagOf(100, 90)).toBe(10);
    expect(lagOf(100, null)).toBeNull();
    expect(lagOf(undefined, 5)).toBe(0);
    expect(lagOf(100, -1)).toBe(101);
  });
});
