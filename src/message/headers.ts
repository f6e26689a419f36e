import { bucketOf } from './key-hash.ts';

/**
 * The `x-warren-*` headers: the message conventions of DESIGN.md in one
 * place. Pure builders and readers, shared by the producer, the worker and
 * DLQ replay, so a header is named and parsed in exactly one spot.
 */

export const HEADERS = {
  /** 1 on first delivery; the worker's own count (never `x-death`, which RabbitMQ 3.13+ ignores from clients). */
  attempt: 'x-warren-attempt',
  orderingKey: 'x-warren-ordering-key',
  /**
   * `x-warren-shard-<N>`: the shard (0 … N-1, a decimal string) of the
   * ordering key among N shards — see `shardHeaders`. The prefix; the name
   * ends with the shard count.
   */
  shardPrefix: 'x-warren-shard-',
  /** ISO time the producer first accepted the job. */
  firstSeenAt: 'x-warren-first-seen-at',
  /** Where the job was first published, so a DLQ message can go back. */
  originExchange: 'x-warren-origin-exchange',
  originRoutingKey: 'x-warren-origin-routing-key',
  /** ISO time a delayed job is due (set at enqueue with `delay` / `runAt`; README "Jobs for later"). */
  runAt: 'x-warren-run-at',
  /** How many times DLQ replay has republished this job. */
  replays: 'x-warren-replays',
  /** Set on dead-lettering: why, and the failure context. */
  reason: 'x-warren-reason',
  errorClass: 'x-warren-error-class',
  errorMessage: 'x-warren-error-message',
  errorStack: 'x-warren-error-stack',
  attempts: 'x-warren-attempts',
  worker: 'x-warren-worker',
  consumer: 'x-warren-consumer',
  failedAt: 'x-warren-failed-at',
  /**
   * ISO time of the job's first failed attempt: stamped on the first retry
   * copy and carried through every later copy, so the DLQ copy shows when
   * the trouble began, not when the attempts ran out.
   */
  firstFailedAt: 'x-warren-first-failed-at',
  /**
   * The span of the attempt that failed (`traceparent` format), on a retry
   * copy and a dead letter: the next attempt's span, or the replay's, links
   * to it. Set only when a trace is active (src/tracing/).
   */
  previousSpan: 'x-warren-previous-span',
} as const;

export type DeadLetterReason = 'malformed' | 'invalid-payload' | 'non-retryable' | 'attempts-exhausted' | 'timeout';

export type HeaderValue = string | number | boolean | undefined;
export type Headers = Record<string, unknown>;

/** The header a sharded consumer of `shards` shards routes on: `x-warren-shard-<shards>`. */
export function shardHeader(shards: number): string {
  return `${HEADERS.shardPrefix}${shards}`;
}

/**
 * The shard of `orderingKey` for each shard count: `x-warren-shard-<N>` =
 * `stableHash(key) mod N` as a decimal string. warren picks the shard itself,
 * so the key → shard mapping depends on nothing the broker rebuilds (a
 * consistent-hash ring is rebuilt in binding-recovery order after a
 * restart). A string, because a headers exchange compares typed values: the
 * binding argument is a string, and a number would not match it.
 */
export function shardHeaders(orderingKey: string, shardCounts: readonly number[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const shards of shardCounts) headers[shardHeader(shards)] = String(bucketOf(orderingKey, shards, 'shards'));
  return headers;
}

/** Headers the producer puts on a new job. */
export function jobHeaders(input: {
  exchange: string;
  routingKey: string;
  orderingKey?: string | undefined;
  /** The shard counts of the plan's sharded consumers (`JobPlan.shardCounts`): one `x-warren-shard-<N>` each, with an ordering key. */
  shardCounts?: readonly number[] | undefined;
  now: Date;
}): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    [HEADERS.attempt]: 1,
    [HEADERS.firstSeenAt]: input.now.toISOString(),
    [HEADERS.originExchange]: input.exchange,
    [HEADERS.originRoutingKey]: input.routingKey,
  };
  if (input.orderingKey !== undefined) {
    headers[HEADERS.orderingKey] = input.orderingKey;
    Object.assign(headers, shardHeaders(input.orderingKey, input.shardCounts ?? []));
  }
  return headers;
}

/** The attempt number of a delivery: our header, else 1. */
export function attemptOf(headers: Headers | undefined): number {
  const value = Number(headers?.[HEADERS.attempt]);
  return Number.isInteger(value) && value >= 1 ? value : 1;
}

/**
 * Headers of the copy published to a retry tier: same job, next attempt,
 * and the first-failure time (kept from an earlier copy, else `failedAt`).
 */
export function retryHeaders(headers: Headers | undefined, nextAttempt: number, failedAt: Date): Headers {
  const base = stripBrokerHeaders(headers);
  return { ...base, [HEADERS.attempt]: nextAttempt, [HEADERS.firstFailedAt]: firstFailedAtOf(base) ?? failedAt.toISOString() };
}

/** The first-failure time a message carries, when it carries a valid one. */
export function firstFailedAtOf(headers: Headers | undefined): string | undefined {
  const value = headers?.[HEADERS.firstFailedAt];
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return undefined;
  return value;
}

export interface FailureContext {
  reason: DeadLetterReason;
  error: { class: string; message: string; stack?: string | undefined };
  attempts: number;
  worker: string;
  consumer: string;
  /** Where the delivery came from, used when the job carries no origin headers. */
  deliveredFrom: { exchange: string; routingKey: string };
  now: Date;
  /** The first failure this delivery saw (in-place retries); a header from an earlier copy wins. */
  firstFailedAt?: Date | undefined;
}

const MAX_STACK_LINES = 8;
const MAX_TEXT = 2_000;

/** Headers of the copy published to the DLQ: the original ones plus the failure context. */
export function deadLetterHeaders(headers: Headers | undefined, failure: FailureContext): Headers {
  const base = stripBrokerHeaders(headers);
  const failedAt = failure.now.toISOString();
  return {
    ...base,
    [HEADERS.originExchange]: base[HEADERS.originExchange] ?? failure.deliveredFrom.exchange,
    [HEADERS.originRoutingKey]: base[HEADERS.originRoutingKey] ?? failure.deliveredFrom.routingKey,
    [HEADERS.reason]: failure.reason,
    [HEADERS.errorClass]: trim(failure.error.class, 200),
    [HEADERS.errorMessage]: trim(failure.error.message, MAX_TEXT),
    ...(failure.error.stack !== undefined && { [HEADERS.errorStack]: trimStack(failure.error.stack) }),
    [HEADERS.attempts]: failure.attempts,
    [HEADERS.worker]: failure.worker,
    [HEADERS.consumer]: failure.consumer,
    [HEADERS.failedAt]: failedAt,
    [HEADERS.firstFailedAt]: firstFailedAtOf(base) ?? failure.firstFailedAt?.toISOString() ?? failedAt,
  };
}

/** Headers of a job replayed from a DLQ: failure context (and the failed attempt's span) removed, attempt reset, replay counted. */
export function replayHeaders(headers: Headers | undefined): Headers {
  const base = stripBrokerHeaders(headers);
  for (const key of [
    HEADERS.reason,
    HEADERS.errorClass,
    HEADERS.errorMessage,
    HEADERS.errorStack,
    HEADERS.attempts,
    HEADERS.worker,
    HEADERS.consumer,
    HEADERS.failedAt,
    // The replay's span links to the failed attempt; the new first attempt starts afresh.
    HEADERS.previousSpan,
  ]) {
    delete base[key];
  }
  const replays = Number(base[HEADERS.replays]);
  return { ...base, [HEADERS.attempt]: 1, [HEADERS.replays]: Number.isInteger(replays) ? replays + 1 : 1 };
}

/** Broker-owned headers must not be copied onto a new publish. */
function stripBrokerHeaders(headers: Headers | undefined): Headers {
  const copy: Headers = { ...(headers ?? {}) };
  for (const key of ['x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason', 'x-last-death-exchange', 'x-last-death-queue', 'x-last-death-reason', 'x-delivery-count']) {
    delete copy[key];
  }
  return copy;
}

function trim(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function trimStack(stack: string): string {
  return trim(stack.split('\n').slice(0, MAX_STACK_LINES).join('\n'), MAX_TEXT);
}
