import { createHash } from 'node:crypto';
import type { Options } from 'amqplib';
import { deadLetterHeaders, HEADERS, retryHeaders, type DeadLetterReason, type Headers } from '../../message/headers.ts';
import { previousSpanValue } from '../../tracing/spans.ts';
import type { ConsumerPlan } from '../../topology/plan.ts';
import type { Step } from '../pipeline.ts';
import type { CopyPublisher, IncomingDelivery, JobState } from '../context.ts';
import { HandlerTimeoutError, immediateDeadLetterReason, ReleasedError } from '../errors.ts';
import { decideRetry } from '../retry-policy.ts';
import { sleep } from '../sleep.ts';

export interface SettleOptions {
  plan: ConsumerPlan;
  publisher: CopyPublisher;
  workerId: string;
  isRetryable: (error: unknown) => boolean;
  /** Pause before handing a message back after a copy could not be published. @defaultValue 1_000 */
  requeuePauseMs?: number;
  now?: () => Date;
}

/**
 * The outermost step: acts after everything else. Success (or an already
 * done job) → ack. A failure → a confirmed copy to the next retry tier or to
 * the DLQ, then ack; the original is never acked before its copy is
 * confirmed. A released job is left unacked for redelivery.
 */
export function settleStep(options: SettleOptions): Step<JobState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      ctx.error = error;
      ctx.outcome = await settleFailure(ctx, error, options);
      return;
    }
    ctx.outcome = ctx.delivery.ack() ? (ctx.duplicate ? 'duplicate' : 'succeeded') : 'unsettled';
  };
}

async function settleFailure(ctx: JobState, error: unknown, options: SettleOptions): Promise<JobState['outcome']> {
  if (error instanceof ReleasedError) return 'released';
  ctx.logger.debug({ err: error }, 'attempt failed');
  const now = (options.now ?? (() => new Date()))();
  ctx.firstFailedAt ??= now;
  const reason = immediateDeadLetterReason(error, options.isRetryable);
  const decision = reason === undefined ? decideRetry(ctx.attempt, options.plan.retry, options.plan.shards !== undefined) : undefined;
  try {
    if (decision?.action === 'retry-tier') {
      await options.publisher.publish({
        exchange: '',
        routingKey: decision.queue,
        content: ctx.delivery.content,
        options: copyOptions(ctx.delivery, withPreviousSpan(retryHeaders(ctx.headers, decision.nextAttempt, ctx.firstFailedAt), ctx)),
      });
      return ctx.delivery.ack() ? 'retried' : 'unsettled';
    }
    const finalReason: DeadLetterReason = reason ?? (error instanceof HandlerTimeoutError ? 'timeout' : 'attempts-exhausted');
    ctx.deadLetterReason = finalReason;
    await options.publisher.publish({
      exchange: options.plan.deadLetter.exchange,
      routingKey: ctx.delivery.routingKey,
      content: ctx.delivery.content,
      options: copyOptions(ctx.delivery, withPreviousSpan(deadLetterHeaders(ctx.headers, failureOf(ctx, error, finalReason, options, now)), ctx)),
    });
    return ctx.delivery.ack() ? 'dead-lettered' : 'unsettled';
  } catch (publishError) {
    // No confirmed copy, so the original must stay. Hand it back after a
    // pause: a broker that refuses copies is never hammered in a hot loop.
    ctx.logger.error({ err: publishError }, 'could not publish the retry/DLQ copy; requeueing the original');
    await sleep(options.requeuePauseMs ?? 1_000).catch(() => undefined);
    ctx.delivery.nack(true);
    return 'released';
  }
}

/**
 * A copy keeps the job's `traceparent` (the publish span: every attempt is
 * its child) and names the span of the attempt that failed, for the next
 * attempt's span (or a replay's) to link to.
 */
function withPreviousSpan(headers: Headers, ctx: JobState): Headers {
  const previous = previousSpanValue(ctx.span);
  if (previous !== undefined) headers[HEADERS.previousSpan] = previous;
  return headers;
}

function failureOf(ctx: JobState, error: unknown, reason: DeadLetterReason, options: SettleOptions, now: Date) {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    reason,
    error: { class: err.name || err.constructor.name, message: err.message, stack: err.stack },
    attempts: ctx.attempt,
    worker: options.workerId,
    consumer: options.plan.name,
    deliveredFrom: { exchange: ctx.delivery.exchange, routingKey: ctx.delivery.routingKey },
    now,
    firstFailedAt: ctx.firstFailedAt,
  };
}

/** Properties a retry or DLQ copy keeps from the original delivery. */
const KEPT_PROPERTIES = ['contentType', 'contentEncoding', 'priority', 'correlationId', 'replyTo', 'timestamp', 'type', 'appId'] as const;

/**
 * The properties of a retry or DLQ copy: the original ones with new headers
 * (and a message id when it had none), always persistent and never with a
 * per-message `expiration`. A copy is the only trace of a job that failed:
 * a transient original must not make its dead letter vanish on a broker
 * restart, and the original's TTL must neither expire a dead letter nor cut
 * a retry tier's delay short (the tier's queue TTL alone decides that).
 */
export function copyOptions(delivery: IncomingDelivery, headers: Headers): Options.Publish & { messageId: string } {
  const p = delivery.properties;
  const options: Options.Publish = { headers };
  for (const key of KEPT_PROPERTIES) {
    const value = p[key];
    if (value !== undefined && value !== null) (options as Record<string, unknown>)[key] = value;
  }
  return { ...options, deliveryMode: 2, messageId: jobIdOf(delivery) };
}

/** The job id: `messageId`, else a hash of the body (so a redelivery maps to the same id). */
export function jobIdOf(delivery: Pick<IncomingDelivery, 'properties' | 'content'>): string {
  const id = delivery.properties.messageId;
  if (typeof id === 'string' && id !== '') return id;
  return `sha256:${createHash('sha256').update(delivery.content).digest('hex').slice(0, 32)}`;
}
