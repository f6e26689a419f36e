import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['1s', 1_000],
    ['10s', 10_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
    [250, 250],
  ])('%s → %i ms', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each(['10x', '', 's', '-1s', '1.0001ms', 'ten seconds'])('rejects %j', (input) =>
    expect(parseDuration(input)).toBeUndefined(),
  );

  it('rejects negative and fractional numbers', () => {
    expect(parseDuration(-5)).toBeUndefined();
    expect(parseDuration(1.5)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [500, '500ms'],
    [1_000, '1s'],
    [90_000, '90s'],
    [60_000, '1m'],
    [1_500, '1500ms'],
    [86_400_000, '1d'],
  ])('%i ms → %s', (ms, label) => expect(formatDuration(ms)).toBe(label));
});
