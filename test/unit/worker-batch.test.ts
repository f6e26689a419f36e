import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { planOf } from '../fixtures/workers/_support.ts';
import { BatchCollector } from '../../src/worker/batch-collector.ts';
import { defineWorker } from '../../src/worker/define.ts';
import { resolveConsumerSettings } from '../../src/worker/options.ts';

const plan = planOf(`
version: 1
exchanges:
  jobs: { type: topic }
consumers:
  sink:
    source: { exchange: jobs, pattern: sink }
    prefetch: 20
`);
const consumer = plan.consumers[0]!;
const batchWorker = (size: number, concurrency?: number) =>
  defineWorker({ consumer: 'sink', schema: z.object({}), batch: { size, maxWaitMs: 10 }, ...(concurrency && { concurrency }), handleBatch: () => undefined });

describe('batch settings', () => {
  it('accepts a batch the prefetch can fill, with concurrency following the prefetch', () => {
    expect(resolveConsumerSettings(batchWorker(20), consumer)).toMatchObject({ concurrency: 20, batch: { size: 20, maxWaitMs: 10 } });
  });

  it('refuses a batch bigger than the prefetch, naming the fix', () => {
    expect(() => resolveConsumerSettings(batchWorker(21), consumer)).toThrow(/prefetch 20 cannot fill a batch of 21/);
  });

  it('refuses a concurrency below the batch size', () => {
    expect(() => resolveConsumerSettings(batchWorker(10, 5), consumer)).toThrow(/concurrency 5 cannot fill a batch of 10/);
  });
});

describe('defineWorker with handleBatch', () => {
  it('runs a batch of one through handle, and a failed job becomes the thrown error', async () => {
    const definition = defineWorker({
      consumer: 'sink',
      schema: z.object({ ok: z.boolean() }),
      batch: { size: 5, maxWaitMs: 10 },
      handleBatch: (jobs) => {
        for (const job of jobs) if (!job.payload.ok) job.fail(new Error(`refused ${job.jobId}`));
      },
    });
    const ctx = { jobId: 'j1', attempt: 1, orderingKey: undefined, jobType: undefined, headers: {}, logger: undefined as never, signal: new AbortController().signal, tx: undefined };
    await expect(Promise.resolve(definition.handle({ ok: true }, ctx))).resolves.toBeUndefined();
    await expect(Promise.resolve(definition.handle({ ok: false }, ctx))).rejects.toThrow('refused j1');
  });
});

describe('BatchCollector', () => {
  afterEach(() => vi.useRealTimers());

  it('sends a full batch at once and a partial one after maxWaitMs, never more than size', () => {
    vi.useFakeTimers();
    const sent: number[][] = [];
    const collector = new BatchCollector<number>(3, 100, (items) => sent.push(items));
    for (let n = 0; n < 7; n++) collector.add(n);
    expect(sent).toEqual([[0, 1, 2], [3, 4, 5]]);
    vi.advanceTimersByTime(99);
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(collector.waiting).toBe(0);
  });

  it('flushes what waits at once on demand (shutdown)', () => {
    vi.useFakeTimers();
    const sent: number[][] = [];
    const collector = new BatchCollector<number>(10, 1_000, (items) => sent.push(items));
    collector.add(1);
    collector.add(2);
    collector.flush();
    expect(sent).toEqual([[1, 2]]);
    vi.advanceTimersByTime(2_000);
    expect(sent).toEqual([[1, 2]]);
  });
});
