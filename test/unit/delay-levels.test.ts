import { describe, expect, it } from 'vitest';
import {
  DELAY_LEVELS,
  delayLevelNames,
  delayPath,
  delayRoutingKey,
  delayTicks,
  landingBindingKey,
  levelBindingKeys,
  MAX_DELAY_MS,
} from '../../src/delay/levels.ts';
import { delayPathText } from '../../src/delay/path-text.ts';
import { topicMatches } from '../../src/typegen/routing.ts';

const YEAR_MS = 365 * 86_400_000;

/** What the broker does with a routing key, level by level: the queues it waits in, in order. */
function simulate(routingKey: string): { queues: string[]; landed: boolean } {
  const queues: string[] = [];
  for (let level = DELAY_LEVELS - 1; level >= 0; level--) {
    const keys = levelBindingKeys(level);
    const toQueue = topicMatches(keys.toQueue, routingKey);
    const toNext = topicMatches(keys.toNext, routingKey);
    expect(toQueue !== toNext).toBe(true); // exactly one way on from every level
    if (toQueue) queues.push(delayLevelNames.level(level));
  }
  return { queues, landed: topicMatches(landingBindingKey('reminder.send'), routingKey) };
}

describe('delay levels', () => {
  it('rounds up to 100 ms ticks, never down', () => {
    expect(delayTicks(0)).toBe(0);
    expect(delayTicks(-5)).toBe(0);
    expect(delayTicks(1)).toBe(1);
    expect(delayTicks(100)).toBe(1);
    expect(delayTicks(101)).toBe(2);
    expect(delayTicks(1_000)).toBe(10);
  });

  it('writes the bits, highest level first, then the job type', () => {
    expect(delayRoutingKey(1, 'a.b')).toBe(`${'0.'.repeat(DELAY_LEVELS - 1)}1.a.b`);
    expect(delayRoutingKey(10, 'x')).toBe(`${'0.'.repeat(DELAY_LEVELS - 4)}1.0.1.0.x`);
    expect(delayRoutingKey(2 ** DELAY_LEVELS - 1, 'x')).toBe(`${'1.'.repeat(DELAY_LEVELS)}x`);
    expect(() => delayRoutingKey(2 ** DELAY_LEVELS, 'x')).toThrow(RangeError);
  });

  it("a 1-year delay's path: the levels of its set bits, longest first, adding up to exactly a year", () => {
    const path = delayPath(YEAR_MS, 'reminder.send');
    expect(path.ticks).toBe(315_360_000);
    expect(path.delayMs).toBe(YEAR_MS);
    expect(path.hops.map((h) => h.level)).toEqual([28, 25, 23, 22, 19, 18, 9, 8]);
    expect(path.exchange).toBe('warren.delay.level.28');
    expect(path.hops.reduce((sum, h) => sum + h.ttlMs, 0)).toBe(YEAR_MS);
    expect(path.hops.at(-1)?.leavesAtMs).toBe(YEAR_MS);
    expect(path.landingQueue).toBe('warren.delay.land.reminder.send');
    expect(simulate(path.routingKey)).toEqual({ queues: path.hops.map((h) => h.queue), landed: true });
    expect(delayPathText(path, 'reminder.send')).toMatchInlineSnapshot(`
      "delay 365d → 315360000 ticks of 100 ms = 365d (365d 00:00:00.0)
      publish to warren.delay.level.28
      routing key 1.0.0.1.0.1.1.0.0.1.1.0.0.0.0.0.0.0.0.1.1.0.0.0.0.0.0.0.0.reminder.send
        wait in warren.delay.level.28  TTL  310d 16:32:25.6  leaves at +310d 16:32:25.6
        wait in warren.delay.level.25  TTL   38d 20:04:03.2  leaves at +349d 12:36:28.8
        wait in warren.delay.level.23  TTL    9d 17:01:00.8  leaves at +359d 05:37:29.6
        wait in warren.delay.level.22  TTL    4d 20:30:30.4  leaves at +364d 02:08:00.0
        wait in warren.delay.level.19  TTL       14:33:48.8  leaves at +364d 16:41:48.8
        wait in warren.delay.level.18  TTL       07:16:54.4  leaves at +364d 23:58:43.2
        wait in warren.delay.level.09  TTL       00:00:51.2  leaves at +364d 23:59:34.4
        wait in warren.delay.level.08  TTL       00:00:25.6  leaves at +365d 00:00:00.0
      then warren.delay.land.reminder.send (TTL 0) → the exchange and routing key of job type "reminder.send"
      8 delay queues on the way
      "
    `);
  });

  it('every delay from a tick to the maximum takes a path that adds up to it and lands once', () => {
    const samples = [1, 99, 100, 1_000, 1_001, 59_999, 120_000, 86_400_000, YEAR_MS, MAX_DELAY_MS];
    for (let i = 0; i < 200; i++) samples.push(1 + Math.floor(Math.random() * MAX_DELAY_MS));
    for (const ms of samples) {
      const path = delayPath(ms, 'reminder.send');
      expect(path.delayMs).toBeGreaterThanOrEqual(ms);
      expect(path.delayMs - ms).toBeLessThan(100);
      expect(path.hops.reduce((sum, h) => sum + h.ttlMs, 0)).toBe(path.delayMs);
      expect(simulate(path.routingKey)).toEqual({ queues: path.hops.map((h) => h.queue), landed: true });
      expect(Buffer.byteLength(path.routingKey)).toBeLessThanOrEqual(255);
    }
  });

  it('covers at least a year; refuses past the maximum and a delay of nothing', () => {
    expect(MAX_DELAY_MS).toBeGreaterThan(YEAR_MS);
    expect(() => delayPath(MAX_DELAY_MS + 1, 'x')).toThrow(RangeError);
    expect(() => delayPath(0, 'x')).toThrow(RangeError);
  });

  it("a job type's landing binding matches its own key only, not a longer name ending alike", () => {
    const key = delayRoutingKey(10, 'foo.order.created');
    expect(topicMatches(landingBindingKey('foo.order.created'), key)).toBe(true);
    expect(topicMatches(landingBindingKey('order.created'), key)).toBe(false);
  });
});
