import { WarrenError } from '../errors.ts';

/**
 * A claim was lost before it was settled: its lease ran out or its connection
 * dropped, so what the handler wrote through `tx` was rolled back and another
 * delivery may run the job. The worker must not ack the delivery as done.
 */
export class ClaimLostError extends WarrenError {
  constructor(key: string, reason: string, options?: { cause?: unknown }) {
    super('IDEMPOTENCY_CLAIM_LOST', `claim of job "${key}" was lost: ${reason}`, options);
  }
}

/** The idempotency store could not be reached or refused an operation. */
export class IdempotencyStoreError extends WarrenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IDEMPOTENCY_STORE', message, options);
  }
}
