import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { OutgoingMessage } from '../../src/broker/confirm-publisher.ts';
import { NonRetryableError } from '../../src/errors.ts';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory.ts';
import { createLogger } from '../../src/log.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { buildJobTypes } from '../../src/client/job-types.ts';
import type { ConsumerPlan } from '../../src/topology/plan.ts';
import type { JobState } from '../../src/worker/context.ts';
import { HandlerTimeoutError, ReleasedError } from '../../src/worker/errors.ts';
import { composeSteps } from '../../src/worker/pipeline.ts';
import { decodeStep } from '../../src/worker/steps/decode.ts';
import { dedupeStep } from '../../src/worker/steps/dedupe.ts';
import { handleStep } from '../../src/worker/steps/handle.ts';
import { retryInPlaceStep } from '../../src/worker/steps/retry-in-place.ts';
import { settleStep } from '../../src/worker/steps/settle.ts';
import { validateStep } from '../../src/worker/steps/validate.ts';

const logger = createLogger('test', { level: 'silent', pretty: false });

function fakeJob(body: string, attempt = 1, type: string | null = 'thing') {
  const settled: string[] = [];
  const ctx: JobState = {
    delivery: {
      content: Buffer.from(body),
      exchange: 'jobs',
      routingKey: 'rk',
      redelivered: false,
      properties: { messageId: 'job-1', type: type ?? undefined, contentType: 'application/json', headers: { [HEADERS.attempt]: attempt } },
      ack: () => (settled.push('ack'), true),
      nack: (requeue) => (settled.push(`nack:${requeue}`), true),
    },
    jobId: 'job-1',
    orderingKey: undefined,
    headers: { [HEADERS.attempt]: attempt },
    attempt,
    body: undefined,
    payload: undefined,
    tx: undefined,
    duplicate: false,
    outcome: undefined,
    logger,
  };
  return { ctx, settled };
}

const plan: ConsumerPlan = {
  name: 'c',
  source: { exchange: 'jobs', patterns: ['#'] },
  queues: ['c'],
  prefetch: 10,
  retry: { maxAttempts: 3, delaysMs: [1_000, 10_000], tiers: [{ delayMs: 1_000, label: '1s', queue: 'c.retry.1s' }, { delayMs: 10_000, label: '10s', queue: 'c.retry.10s' }] },
  deadLetter: { exchange: 'c.dlx', queue: 'c.dlq' },
  queueType: 'classic',
};

function recordingPublisher(fail = false) {
  const published: OutgoingMessage[] = [];
  return { published, publish: async (message: OutgoingMessage) => { if (fail) throw new Error('no broker'); published.push(message); } };
}

const noop = async () => undefined;

describe('decode and validate', () => {
  it('parses JSON, types the payload, and reports bad input as malformed / invalid', async () => {
    const pipeline = composeSteps<JobState>([decodeStep, validateStep({ jobTypes: new Map(), schema: z.object({ n: z.number() }) }), noop]);
    const ok = fakeJob('{"n":1}');
    await pipeline(ok.ctx);
    expect(ok.ctx.payload).toEqual({ n: 1 });
    await expect(pipeline(fakeJob('{nope').ctx)).rejects.toMatchObject({ code: 'MALFORMED_MESSAGE' });
    await expect(pipeline(fakeJob('{"n":"x"}').ctx)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringContaining('n:') });
  });
});

describe('validate against the topology', () => {
  const jobTypes = buildJobTypes([
    {
      type: 'thing',
      exchange: 'jobs',
      routingKey: 'thing',
      payloadSchema: { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 0 } }, additionalProperties: false },
    },
  ]);

  it("checks the payload against its job type's JSON Schema, with no schema of the worker's own", async () => {
    const pipeline = composeSteps<JobState>([decodeStep, validateStep({ jobTypes, schema: undefined }), noop]);
    const ok = fakeJob('{"n":1}');
    await pipeline(ok.ctx);
    expect(ok.ctx.payload).toEqual({ n: 1 });
    await expect(pipeline(fakeJob('{"n":-1}').ctx)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringContaining('job type "thing"') });
    await expect(pipeline(fakeJob('{"n":1,"extra":true}').ctx)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });

  it('refuses a job type the topology does not declare unless the worker has a schema of its own', async () => {
    const bare = composeSteps<JobState>([decodeStep, validateStep({ jobTypes, schema: undefined }), noop]);
    await expect(bare(fakeJob('{"n":1}', 1, 'other').ctx)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringContaining('"other" is not in the topology') });
    await expect(bare(fakeJob('{"n":1}', 1, null).ctx)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    const own = composeSteps<JobState>([decodeStep, validateStep({ jobTypes, schema: z.object({ n: z.number() }) }), noop]);
    await expect(own(fakeJob('{"n":1}', 1, 'other').ctx)).resolves.toBeUndefined();
  });

  it("runs the worker's own schema after the topology's: both must pass, and its output is the payload", async () => {
    const stricter = z.object({ n: z.number().max(10) }).transform(({ n }) => ({ n, doubled: n * 2 }));
    const pipeline = composeSteps<JobState>([decodeStep, validateStep({ jobTypes, schema: stricter }), noop]);
    const ok = fakeJob('{"n":3}');
    await pipeline(ok.ctx);
    expect(ok.ctx.payload).toEqual({ n: 3, doubled: 6 });
    await expect(pipeline(fakeJob('{"n":11}').ctx)).rejects.toMatchObject({ message: expect.stringContaining("worker's schema") });
    await expect(pipeline(fakeJob('{"n":1.5}').ctx)).rejects.toMatchObject({ message: expect.stringContaining('job type "thing"') });
  });
});

describe('settle', () => {
  it('acks a success and a duplicate', async () => {
    const { ctx, settled } = fakeJob('{}');
    await settleStep({ plan, publisher: recordingPublisher(), workerId: 'w', isRetryable: () => true })(ctx, noop);
    expect(settled).toEqual(['ack']);
    expect(ctx.outcome).toBe('succeeded');
  });

  it('publishes a retry copy to the tier of the failed attempt with the next attempt number, then acks', async () => {
    const publisher = recordingPublisher();
    const { ctx, settled } = fakeJob('{}', 2);
    await settleStep({ plan, publisher, workerId: 'w', isRetryable: () => true })(ctx, async () => { throw new Error('boom'); });
    expect(publisher.published).toHaveLength(1);
    expect(publisher.published[0]).toMatchObject({ exchange: '', routingKey: 'c.retry.10s', options: { messageId: 'job-1', type: 'thing', headers: { [HEADERS.attempt]: 3 } } });
    expect(settled).toEqual(['ack']);
    expect(ctx.outcome).toBe('retried');
  });

  it('dead-letters after the last attempt, and at once for NonRetryableError, timeouts last', async () => {
    const cases: Array<[unknown, number, string]> = [
      [new Error('boom'), 3, 'attempts-exhausted'],
      [new HandlerTimeoutError(5), 3, 'timeout'],
      [new NonRetryableError('no'), 1, 'non-retryable'],
    ];
    for (const [error, attempt, reason] of cases) {
      const publisher = recordingPublisher();
      const { ctx, settled } = fakeJob('{}', attempt);
      await settleStep({ plan, publisher, workerId: 'w', isRetryable: () => true })(ctx, async () => { throw error; });
      expect(publisher.published[0]).toMatchObject({ exchange: 'c.dlx', options: { headers: { [HEADERS.reason]: reason, [HEADERS.attempts]: attempt, [HEADERS.worker]: 'w' } } });
      expect(settled).toEqual(['ack']);
    }
  });

  it('never acks when the copy is not confirmed, and leaves released jobs unsettled', async () => {
    const failed = fakeJob('{}');
    await settleStep({ plan, publisher: recordingPublisher(true), workerId: 'w', isRetryable: () => true, requeuePauseMs: 1 })(failed.ctx, async () => { throw new Error('boom'); });
    expect(failed.settled).toEqual(['nack:true']);
    const released = fakeJob('{}');
    await settleStep({ plan, publisher: recordingPublisher(), workerId: 'w', isRetryable: () => true })(released.ctx, async () => { throw new ReleasedError(); });
    expect(released.settled).toEqual([]);
    expect(released.ctx.outcome).toBe('released');
  });
});

describe('dedupe', () => {
  it('runs a job once, skips it when done, and releases the claim on failure', async () => {
    const store = new MemoryIdempotencyStore();
    const step = dedupeStep({ store, consumer: 'c', leaseMs: 1_000, pollMs: 5, signal: new AbortController().signal });
    let runs = 0;
    const failing = fakeJob('{}');
    await expect(step(failing.ctx, async () => { runs++; throw new Error('x'); })).rejects.toThrow('x');
    const first = fakeJob('{}');
    await step(first.ctx, async () => { runs++; });
    const second = fakeJob('{}');
    await step(second.ctx, async () => { runs++; });
    expect(runs).toBe(2);
    expect(first.ctx.duplicate).toBe(false);
    expect(second.ctx.duplicate).toBe(true);
  });

  it('never runs two deliveries of one job at once: the second waits and then finds it done', async () => {
    const store = new MemoryIdempotencyStore();
    const step = dedupeStep({ store, consumer: 'c', leaseMs: 1_000, pollMs: 5, signal: new AbortController().signal });
    let running = 0;
    let maxRunning = 0;
    const body = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 30));
      running--;
    };
    const a = fakeJob('{}');
    const b = fakeJob('{}');
    await Promise.all([step(a.ctx, body), step(b.ctx, body)]);
    expect(maxRunning).toBe(1);
    expect([a.ctx.duplicate, b.ctx.duplicate].sort()).toEqual([false, true]);
  });
});

describe('handle with timeout', () => {
  it('aborts a handler past its timeout with a retryable HandlerTimeoutError', async () => {
    let aborted = false;
    const step = handleStep({
      timeoutMs: 20,
      hardStop: new AbortController().signal,
      definition: { handle: (_p, ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => { aborted = true; resolve(); })) },
    });
    await expect(step(fakeJob('{}').ctx, noop)).rejects.toBeInstanceOf(HandlerTimeoutError);
    expect(aborted).toBe(true);
  });

  it('releases a handler at the shutdown deadline', async () => {
    const hardStop = new AbortController();
    const step = handleStep({ timeoutMs: 10_000, hardStop: hardStop.signal, definition: { handle: () => new Promise(() => undefined) } });
    const running = step(fakeJob('{}').ctx, noop);
    hardStop.abort();
    await expect(running).rejects.toBeInstanceOf(ReleasedError);
  });
});

describe('retry in place (ordered consumers)', () => {
  it('retries up to maxAttempts with backoff, raising the attempt, then lets the error through', async () => {
    const seen: number[] = [];
    const step = retryInPlaceStep({ retry: { maxAttempts: 3, delaysMs: [1, 2], tiers: [] }, isRetryable: () => true, signal: new AbortController().signal });
    const { ctx } = fakeJob('{}');
    await expect(step(ctx, async () => { seen.push(ctx.attempt); throw new Error('still failing'); })).rejects.toThrow('still failing');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('does not retry non-retryable errors', async () => {
    let calls = 0;
    const step = retryInPlaceStep({ retry: { maxAttempts: 3, delaysMs: [1], tiers: [] }, isRetryable: () => true, signal: new AbortController().signal });
    await expect(step(fakeJob('{}').ctx, async () => { calls++; throw new NonRetryableError('no'); })).rejects.toBeInstanceOf(NonRetryableError);
    expect(calls).toBe(1);
  });
});
