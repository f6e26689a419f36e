import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import type { IdempotencyTransaction } from '../idempotency/store.ts';
import type { Logger } from '../log.ts';
import type { Headers } from '../message/headers.ts';

/** One received message, settled on the channel it came from. */
export interface IncomingDelivery {
  content: Buffer;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  properties: {
    messageId?: string | undefined;
    type?: string | undefined;
    headers?: Headers | undefined;
    [key: string]: unknown;
  };
  /** False when the channel it came on is gone (the broker redelivers it). */
  ack(): boolean;
  nack(requeue: boolean): boolean;
}

/** Confirmed publishing of retry and DLQ copies. */
export interface CopyPublisher {
  publish(message: OutgoingMessage): Promise<void>;
}

export type Outcome = 'succeeded' | 'duplicate' | 'retried' | 'dead-lettered' | 'released' | 'unsettled';

/** The state one delivery carries through the pipeline steps. */
export interface JobState {
  readonly delivery: IncomingDelivery;
  readonly jobId: string;
  readonly orderingKey: string | undefined;
  readonly headers: Headers;
  /** Starts at the delivery's attempt header; in-place retries raise it. */
  attempt: number;
  /** Set by decode. */
  body: unknown;
  /** Set by validate. */
  payload: unknown;
  /** Set by dedupe when the store offers a transaction. */
  tx: IdempotencyTransaction | undefined;
  /** Set by dedupe when the job was already done. */
  duplicate: boolean;
  outcome: Outcome | undefined;
  /** When this delivery first failed (set by retry-in-place or settle). */
  firstFailedAt?: Date | undefined;
  /** Set by settle when the job goes to the DLQ. */
  deadLetterReason?: string | undefined;
  logger: Logger;
}
