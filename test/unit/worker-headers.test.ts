import { describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../src/broker/confirm-publisher.ts';
import { createLogger } from '../../src/log.ts';
import { deadLetterHeaders, firstFailedAtOf, HEADERS, jobHeaders, retryHeaders, type FailureContext } from '../../src/message/headers.ts';
import type { ConsumerPlan } from '../../src/topology/plan.ts';
import type { JobState } from '../../src/worker/context.ts';
import { composeSteps } from '../../src/worker/pipeline.ts';
import { retryInPlaceStep } from '../../src/worker/steps/retry-in-place.ts';
import { settleStep } from '../../src/worker/steps/settle.ts';

const logger = createLogger('test', { level: 'silent', pretty: false });
const t0 = new Date('2024-05-01T10:00:00.000Z');
const t1 = new Date('2024-05-01T10:00:05.000Z');
const t2 = new Date('2024-05-01T10:00:30.000Z');

function failure(now: Date, firstFailedAt?: Date): FailureContext {
  return {
    reason: 'attempts-exhausted',
    error: { class: 'Error', message: 'boom' },
    attempts: 3,
    worker: 'w',
    consumer: 'c',
    deliveredFrom: { exchange: 'jobs', routingKey: 'rk' },
    now,
    firstFailedAt,
  };
}

describe('first-failure time', () => {
  const job = jobHeaders({ exchange: 'jobs', routingKey: 'rk', now: t0 });

  it('is stamped on the first retry copy and carried through later copies and the DLQ copy', () => {
    const second = retryHeaders(job, 2, t0);
    expect(second[HEADERS.firstFailedAt]).toBe(t0.toISOString());
    const third = retryHeaders(second, 3, t1);
    expect(third[HEADERS.attempt]).toBe(3);
    expect(third[HEADERS.firstFailedAt]).toBe(t0.toISOString());
    const dead = deadLetterHeaders(third, failure(t2));
    expect(dead[HEADERS.firstFailedAt]).toBe(t0.toISOString());
    expect(dead[HEADERS.failedAt]).toBe(t2.toISOString());
  });

  it('is the failure time itself when the job fails once, or the first in-place failure', () => {
    expect(deadLetterHeaders(job, failure(t2))[HEADERS.firstFailedAt]).toBe(t2.toISOString());
    expect(deadLetterHeaders(job, failure(t2, t1))[HEADERS.firstFailedAt]).toBe(t1.toISOString());
    // A time from an earlier copy is older than anything this delivery saw.
    expect(deadLetterHeaders(retryHeaders(job, 2, t0), failure(t2, t1))[HEADERS.firstFailedAt]).toBe(t0.toISOString());
  });

  it('ignores a header that is not a time', () => {
    const forged = { ...job, [HEADERS.firstFailedAt]: 'yesterday-ish' };
    expect(firstFailedAtOf(forged)).toBeUndefined();
    expect(retryHeaders(forged, 2, t1)[HEADERS.firstFailedAt]).toBe(t1.toISOString());
    expect(deadLetterHeaders({ ...job, [HEADERS.firstFailedAt]: 42 }, failure(t2))[HEADERS.firstFailedAt]).toBe(t2.toISOString());
  });

  it('drops the broker-owned x-death headers from copies', () => {
    const copy = retryHeaders({ ...job, 'x-death': [{ count: 1 }], 'x-first-death-queue': 'c.retry.1s' }, 2, t0);
    expect(copy['x-death']).toBeUndefined();
    expect(copy['x-first-death-queue']).toBeUndefined();
  });
});

const plan: ConsumerPlan = {
  name: 'c',
  source: { exchange: 'jobs', patterns: ['#'] },
  queues: ['c'],
  prefetch: 10,
  retry: { maxAttempts: 3, delaysMs: [1_000], tiers: [{ delayMs: 1_000, label: '1s', queue: 'c.retry.1s' }] },
  deadLetter: { exchange: 'c.dlx', queue: 'c.dlq' },
  queueType: 'classic',
};

function transientJob(attempt: number, headers: Record<string, unknown> = {}): JobState {
  return {
    delivery: {
      content: Buffer.from('{}'),
      exchange: 'jobs',
      routingKey: 'rk',
      redelivered: false,
      properties: { messageId: 'job-1', type: 'thing', contentType: 'application/json', deliveryMode: 1, expiration: '1500', priority: 3, headers },
      ack: () => true,
      nack: () => true,
    },
    jobId: 'job-1',
    orderingKey: undefined,
    headers: { ...headers, [HEADERS.attempt]: attempt },
    attempt,
    body: undefined,
    payload: undefined,
    tx: undefined,
    duplicate: false,
    outcome: undefined,
    logger,
  };
}

function recordingPublisher() {
  const published: OutgoingMessage[] = [];
  return { published, publish: async (message: OutgoingMessage) => void published.push(message) };
}

const boom = async () => {
  throw new Error('boom');
};

describe('retry and DLQ copies', () => {
  it('are persistent and carry no per-message expiration, whatever the original had', async () => {
    for (const attempt of [1, 3]) {
      const publisher = recordingPublisher();
      await settleStep({ plan, publisher, workerId: 'w', isRetryable: () => true, now: () => t1 })(transientJob(attempt), boom);
      const [copy] = publisher.published;
      expect(copy?.exchange).toBe(attempt === 1 ? '' : 'c.dlx');
      expect(copy?.options.deliveryMode).toBe(2);
      expect(copy?.options).not.toHaveProperty('expiration');
      expect(copy?.options).toMatchObject({ messageId: 'job-1', type: 'thing', contentType: 'application/json', priority: 3 });
    }
  });

  it('settle stamps the first failure on the retry copy; the DLQ copy of a later attempt keeps it', async () => {
    const retry = recordingPublisher();
    await settleStep({ plan, publisher: retry, workerId: 'w', isRetryable: () => true, now: () => t0 })(transientJob(1), boom);
    const retried = retry.published[0]?.options.headers ?? {};
    expect(retried[HEADERS.firstFailedAt]).toBe(t0.toISOString());
    const dead = recordingPublisher();
    await settleStep({ plan, publisher: dead, workerId: 'w', isRetryable: () => true, now: () => t2 })(transientJob(3, retried), boom);
    const headers = dead.published[0]?.options.headers ?? {};
    expect(headers[HEADERS.firstFailedAt]).toBe(t0.toISOString());
    expect(headers[HEADERS.failedAt]).toBe(t2.toISOString());
  });

  it('an ordered consumer retrying in place dead-letters with the time of its first in-place failure', async () => {
    const publisher = recordingPublisher();
    const sharded: ConsumerPlan = { ...plan, shards: { count: 2, exchange: 'c.hash' }, retry: { maxAttempts: 3, delaysMs: [20], tiers: [] } };
    const pipeline = composeSteps<JobState>([
      settleStep({ plan: sharded, publisher, workerId: 'w', isRetryable: () => true }),
      retryInPlaceStep({ retry: sharded.retry, isRetryable: () => true, signal: new AbortController().signal }),
      boom,
    ]);
    const before = Date.now();
    await pipeline(transientJob(1));
    const headers = publisher.published[0]?.options.headers ?? {};
    expect(headers[HEADERS.attempts]).toBe(3);
    const first = Date.parse(String(headers[HEADERS.firstFailedAt]));
    const last = Date.parse(String(headers[HEADERS.failedAt]));
    expect(first).toBeGreaterThanOrEqual(before);
    // Two in-place waits of 20 ms lie between the first failure and the last.
    expect(last - first).toBeGreaterThanOrEqual(35);
  });
});
