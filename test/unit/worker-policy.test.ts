import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConsumerPlan } from '../../src/topology/plan.ts';
import { defineWorker } from '../../src/worker/define.ts';
import { KeySerializer } from '../../src/worker/key-serializer.ts';
import { resolveConsumerSettings, resolveWorkerOptions, WORKER_DEFAULTS } from '../../src/worker/options.ts';
import { decideRetry, delayForAttempt } from '../../src/worker/retry-policy.ts';
import { Semaphore } from '../../src/worker/semaphore.ts';

const retry: ConsumerPlan['retry'] = {
  maxAttempts: 4,
  delaysMs: [1_000, 10_000],
  tiers: [{ delayMs: 1_000, label: '1s', queue: 'c.retry.1s' }, { delayMs: 10_000, label: '10s', queue: 'c.retry.10s' }],
};

describe('retry policy', () => {
  it('uses delaysMs[min(n-1, len-1)] for failed attempt n', () => {
    expect([1, 2, 3, 4].map((n) => delayForAttempt(n, [1_000, 10_000]))).toEqual([1_000, 10_000, 10_000, 10_000]);
  });

  it('picks the tier queue, then the DLQ after maxAttempts; sharded consumers retry in place', () => {
    expect(decideRetry(1, retry, false)).toEqual({ action: 'retry-tier', queue: 'c.retry.1s', delayMs: 1_000, nextAttempt: 2 });
    expect(decideRetry(3, retry, false)).toEqual({ action: 'retry-tier', queue: 'c.retry.10s', delayMs: 10_000, nextAttempt: 4 });
    expect(decideRetry(4, retry, false)).toEqual({ action: 'dead-letter' });
    expect(decideRetry(1, { ...retry, tiers: [] }, true)).toEqual({ action: 'retry-in-place', delayMs: 1_000, nextAttempt: 2 });
  });
});

describe('options', () => {
  const plan = { name: 'c', prefetch: 20 } as ConsumerPlan;
  const definition = defineWorker({ consumer: 'c', schema: z.unknown(), handle: () => undefined });

  it('defaults concurrency to the prefetch and the lease to the timeout plus a margin', () => {
    expect(resolveConsumerSettings(definition, plan)).toMatchObject({ concurrency: 20, timeoutMs: WORKER_DEFAULTS.timeoutMs, leaseMs: WORKER_DEFAULTS.timeoutMs + WORKER_DEFAULTS.leaseMarginMs });
    expect(resolveWorkerOptions({}, { urls: ['amqp://x'], workerId: 'w' })).toMatchObject({ shutdownTimeoutMs: 10_000, metricsPort: 0, workerId: 'w' });
  });

  it('rejects settings that cannot work', () => {
    expect(() => resolveConsumerSettings({ ...definition, concurrency: 0 }, plan)).toThrow(RangeError);
    expect(() => resolveConsumerSettings({ ...definition, timeoutMs: 5_000, leaseMs: 1_000 }, plan)).toThrow(/leaseMs/);
    expect(() => resolveWorkerOptions({ metricsPort: 70_000 }, { urls: ['amqp://x'], workerId: 'w' })).toThrow(RangeError);
  });
});

describe('concurrency helpers', () => {
  it('Semaphore never runs more than its limit', async () => {
    const semaphore = new Semaphore(3);
    let running = 0;
    let max = 0;
    await Promise.all(Array.from({ length: 20 }, () => semaphore.run(async () => {
      running++;
      max = Math.max(max, running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
    })));
    expect(max).toBe(3);
  });

  it('KeySerializer keeps submit order per key, even when a task fails, and runs keys in parallel', async () => {
    const serializer = new KeySerializer();
    const log: string[] = [];
    const task = (key: string, n: number, ms: number, fail = false) => () =>
      new Promise<void>((resolve, reject) => setTimeout(() => { log.push(`${key}${n}`); if (fail) reject(new Error('x')); else resolve(); }, ms));
    await Promise.allSettled([
      serializer.run('a', task('a', 1, 20, true)),
      serializer.run('a', task('a', 2, 1)),
      serializer.run('b', task('b', 1, 5)),
      serializer.run('a', task('a', 3, 1)),
    ]);
    expect(log.filter((e) => e.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(log.indexOf('b1')).toBeLessThan(log.indexOf('a1'));
    expect(serializer.size).toBe(0);
  });
});
