import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import type { JobState } from '../../src/worker/context.ts';
import { ReleasedError } from '../../src/worker/errors.ts';
import { gcraReserve, LocalRateLimiter, type RateLimiter } from '../../src/worker/rate-limiter.ts';
import { rateLimitStep } from '../../src/worker/steps/rate-limit.ts';

const logger = createLogger('test', { level: 'silent', pretty: false });
const ctx = { logger } as unknown as JobState;

describe('gcraReserve (no burst)', () => {
  it('in any window of length per, at most max slots — whatever the arrival times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 400 }),
        (max, perMs, gaps) => {
          const interval = perMs / max;
          let tat = 0;
          let now = 0;
          const slots: number[] = [];
          for (const gap of gaps) {
            now += gap;
            const step = gcraReserve(tat, now, interval);
            expect(step.wait).toBeGreaterThanOrEqual(0);
            expect(step.slot).toBeGreaterThanOrEqual(now);
            tat = step.tat;
            slots.push(step.slot);
          }
          // Sliding window [slot_i, slot_i + per): never more than max slots.
          for (let i = 0; i < slots.length; i++) {
            const end = (slots[i] ?? 0) + perMs;
            let count = 0;
            for (let j = i; j < slots.length && (slots[j] ?? 0) < end - 1e-9; j++) count++;
            expect(count).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });

  it('an idle limiter grants at once; a busy one queues slots an interval apart', () => {
    expect(gcraReserve(0, 1_000, 20)).toEqual({ slot: 1_000, tat: 1_020, wait: 0 });
    expect(gcraReserve(1_020, 1_005, 20)).toEqual({ slot: 1_020, tat: 1_040, wait: 15 });
  });

  it('the local limiter hands out waits on its own clock', async () => {
    let clock = 0;
    const limiter = new LocalRateLimiter({ max: 50, perMs: 1_000 }, () => clock);
    const waits = [await limiter.reserve(), await limiter.reserve(), await limiter.reserve()];
    expect(waits).toEqual([0, 20, 40]);
    clock = 1_000;
    expect(await limiter.reserve()).toBe(0);
  });
});

describe('rateLimitStep', () => {
  it('waits for the slot, then runs the rest of the pipeline', async () => {
    const limiter: RateLimiter = { scope: 'test', reserve: async () => 30, close: async () => undefined };
    const step = rateLimitStep({ limiter, signal: new AbortController().signal, retryMs: 5 });
    const started = performance.now();
    let ranAfter = -1;
    await step(ctx, async () => {
      ranAfter = performance.now() - started;
    });
    expect(ranAfter).toBeGreaterThanOrEqual(25);
  });

  it('a job still waiting when the worker stops is released, not run', async () => {
    const stopping = new AbortController();
    const limiter: RateLimiter = { scope: 'test', reserve: async () => 60_000, close: async () => undefined };
    let ran = false;
    const waiting = rateLimitStep({ limiter, signal: stopping.signal, retryMs: 5 })(ctx, async () => {
      ran = true;
    });
    stopping.abort();
    await expect(waiting).rejects.toBeInstanceOf(ReleasedError);
    expect(ran).toBe(false);
  });

  it('a failing limiter (Redis down) holds the job and asks again; it never fails the job', async () => {
    let calls = 0;
    const limiter: RateLimiter = {
      scope: 'test',
      reserve: async () => {
        calls++;
        if (calls < 3) throw new Error('redis down');
        return 0;
      },
      close: async () => undefined,
    };
    let ran = false;
    await rateLimitStep({ limiter, signal: new AbortController().signal, retryMs: 1 })(ctx, async () => {
      ran = true;
    });
    expect(calls).toBe(3);
    expect(ran).toBe(true);
  });
});
