import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { jobHeaders } from '../message/headers.ts';
import type { JobType } from './job-types.ts';

export interface JobMessageInput {
  jobType: JobType;
  /** The validated payload, as the client sent it. */
  payload: unknown;
  id: string;
  orderingKey: string | undefined;
  correlationId: string | undefined;
  now: Date;
}

/**
 * Pure: a validated job → the AMQP message of DESIGN.md's conventions
 * (persistent JSON, message id = job id, type = job type, timestamp,
 * correlation id, `x-warren-*` headers including the ordering key and the
 * `x-warren-shard-<N>` headers sharded consumers' shard exchanges route on).
 */
export function buildJobMessage(input: JobMessageInput): OutgoingMessage {
  const { jobType } = input;
  return {
    exchange: jobType.exchange,
    routingKey: jobType.routingKey,
    content: Buffer.from(JSON.stringify(input.payload)),
    options: {
      persistent: true,
      contentType: 'application/json',
      messageId: input.id,
      type: jobType.type,
      timestamp: Math.floor(input.now.getTime() / 1000),
      ...(input.correlationId !== undefined && { correlationId: input.correlationId }),
      headers: jobHeaders({
        exchange: jobType.exchange,
        routingKey: jobType.routingKey,
        orderingKey: input.orderingKey,
        shardCounts: jobType.shardCounts,
        now: input.now,
      }),
    },
  };
}

/**
 * Idempotency keys and correlation ids become the `messageId` and
 * `correlationId` properties, AMQP short strings (≤ 255 bytes): visible
 * ASCII only (no CR/LF, no bytes that change length when encoded), at most
 * 200 characters, which leaves room for a batch item's `:index` suffix.
 */
export const ID_MAX_LENGTH = 200;
const ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${ID_MAX_LENGTH}}$`);

/** True for a usable idempotency key or correlation id. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** The id of item `index` of a batch sent with idempotency key `key`: stable across retries of the batch. */
export function batchItemId(key: string, index: number): string {
  return `${key}:${index}`;
}
