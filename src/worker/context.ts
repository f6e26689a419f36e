import type { Span } from '@opentelemetry/api';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import type { IdempotencyTransaction } from '../idempotency/store.ts';
import type { Logger } from '../log.ts';
import type { Headers } from '../message/headers.ts';

/** One received message, settled on the channel it came from. */
export interface IncomingDelivery {
  content: Buffer;
  exchange: string;
  routingKey: string;
  /** The queue it was consumed from (a sharded consumer has several). */
  queue?: string | undefined;
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
  /** Set by settle: the failure of the last attempt, when it failed. */
  error?: unknown;
  /** Wall-clock start of the current attempt (epoch ms); set only when the job history is on. */
  attemptStartedAt?: number | undefined;
  logger: Logger;
  /** Set by the trace step when a trace is active: this delivery's CONSUMER span. */
  span?: Span | undefined;
}

/**
 * One delivery's end, as `WorkerInit.onJobSettled` reports it (what
 * `warren/testing` waits on). `succeeded`, `duplicate` and `dead-lettered`
 * are final for this consumer; `retried` means a later attempt follows.
 */
export interface JobSettledEvent {
  consumer: string;
  jobId: string;
  jobType: string | undefined;
  /** The attempt that ended this way (1 on the first delivery). */
  attempt: number;
  outcome: Outcome;
  /** Why the job went to the DLQ, when it did. */
  deadLetterReason: string | undefined;
  /** The failure of this attempt, when it failed. */
  error: { class: string; message: string } | undefined;
}
