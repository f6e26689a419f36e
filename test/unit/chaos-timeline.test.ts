import { describe, expect, it } from 'vitest';
import { causeOf, refusalWindows, summarizeRefusals, unsubscribedWindows } from '../../test/chaos/lib/timeline.ts';

/** The chaos run's arithmetic: how long the producer refused, how long a consumer had no subscription. */
describe('chaos timeline', () => {
  const attempt = (sentAt: number, answeredAt: number, status: number) => ({ sentAt, answeredAt, status });

  it('a 503 spell lasts from the first 503 to the first other answer to a request sent after it began', () => {
    const attempts = [
      attempt(0, 10, 202),
      attempt(90, 100, 503),
      // An older request answered 202 during the spell does not end it.
      attempt(50, 150, 202),
      attempt(160, 170, 503),
      attempt(180, 400, 202),
      attempt(500, 510, 503),
    ];
    expect(refusalWindows(attempts, (s) => s === 503)).toEqual([
      { start: 100, end: 400 },
      { start: 510, end: 510 },
    ]);
    expect(summarizeRefusals(attempts, (s) => s === 503)).toEqual({ answers: 3, windows: 2, totalMs: 300, longestMs: 300 });
  });

  it('a spell of no answers is ended by the producer answering anything, a 503 included', () => {
    const attempts = [attempt(0, 5, 503), attempt(10, 20, 0), attempt(30, 40, 0), attempt(50, 90, 503), attempt(95, 99, 202)];
    expect(refusalWindows(attempts, (s) => s === 0)).toEqual([{ start: 20, end: 90 }]);
    expect(refusalWindows(attempts, (s) => s === 503)).toEqual([
      { start: 5, end: 20 },
      { start: 90, end: 99 },
    ]);
  });

  it('an unsubscribed spell runs from the first sample without a consumer to the next sample with one', () => {
    const samples = [true, false, false, true, true, false].map((subscribed, i) => ({ at: i * 1000, subscribed }));
    expect(unsubscribedWindows(samples)).toEqual([
      { start: 1000, end: 3000 },
      { start: 5000, end: 5000 },
    ]);
    expect(unsubscribedWindows([])).toEqual([]);
  });

  it('puts a spell down to a worker kill just before it, else to a node being down, else to something else', () => {
    const nodeDown = [{ start: 10_000, end: 30_000 }];
    expect(causeOf({ start: 12_000, end: 20_000 }, [11_000], nodeDown)).toBe('worker-kill');
    expect(causeOf({ start: 12_000, end: 20_000 }, [1_000], nodeDown)).toBe('node-loss');
    expect(causeOf({ start: 33_000, end: 40_000 }, [], nodeDown)).toBe('node-loss');
    expect(causeOf({ start: 50_000, end: 60_000 }, [], nodeDown)).toBe('other');
  });
});
