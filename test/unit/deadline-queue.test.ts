import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue } from '../../src/deadline-queue.ts';
import { handleStep } from '../../src/worker/steps/handle.ts';
import { HandlerTimeoutError } from '../../src/worker/errors.ts';
import type { JobState } from '../../src/worker/context.ts';

afterEach(() => vi.useRealTimers());

describe('DeadlineQueue', () => {
  it('keeps one timer for any number of running jobs and expires exactly the late ones, in start order', () => {
    vi.useFakeTimers();
    let now = 0;
    const queue = new DeadlineQueue(100, () => new Error('late'), () => now);
    const expired: number[] = [];
    const deadlines = Array.from({ length: 50 }, (_, i) => {
      now = i;
      return queue.start(() => expired.push(i));
    });
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 50; i += 2) queue.done(deadlines[i]!); // the even ones finish in time
    now = 120;
    vi.advanceTimersByTime(120);
    expect(expired).toEqual(Array.from({ length: 10 }, (_, k) => 2 * k + 1)); // started at ≤ 20
    expect(vi.getTimerCount()).toBe(1); // re-armed for the next head
    now = 200;
    vi.advanceTimersByTime(100);
    expect(expired).toHaveLength(25);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('expires everything at once on demand and leaves no timer', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(1_000, () => new Error('late'));
    const reasons: string[] = [];
    for (let i = 0; i < 3; i++) queue.start((reason) => reasons.push(reason.message));
    queue.expireAll(new Error('released'));
    expect(reasons).toEqual(['released', 'released', 'released']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('handle step', () => {
  const job = { payload: {}, jobId: 'j', attempt: 1, orderingKey: undefined, headers: {}, delivery: { properties: {} }, logger: undefined, tx: undefined } as unknown as JobState;

  it('makes no AbortController for a handler that never reads ctx.signal', async () => {
    const hardStop = new AbortController().signal;
    const step = handleStep({ timeoutMs: 1_000, hardStop, definition: { handle: () => undefined } });
    const Original = globalThis.AbortController;
    let created = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        created++;
      }
    };
    try {
      await step(job, async () => undefined);
    } finally {
      globalThis.AbortController = Original;
    }
    expect(created).toBe(0);
  });

  it('still aborts the signal of a handler that reads it late, after the timeout', async () => {
    let seen: AbortSignal | undefined;
    const step = handleStep({
      timeoutMs: 10,
      hardStop: new AbortController().signal,
      definition: { handle: (_p, ctx) => new Promise<void>((resolve) => setTimeout(() => ((seen = ctx.signal), resolve()), 40)) },
    });
    await expect(step(job, async () => undefined)).rejects.toBeInstanceOf(HandlerTimeoutError);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(HandlerTimeoutError);
  });
});
