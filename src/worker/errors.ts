import { NonRetryableError, WarrenError } from '../errors.ts';
import type { DeadLetterReason } from '../message/headers.ts';

/**
 * Failures the consume pipeline raises itself. The settle step tells them
 * apart with `instanceof` and turns each into ack, retry, dead-letter or
 * release.
 */

/** The body is not JSON: no attempt can ever succeed. */
export class MalformedMessageError extends WarrenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED_MESSAGE', message, options);
  }
}

/** The body is JSON but fails the worker's schema. */
export class InvalidPayloadError extends WarrenError {
  constructor(message: string) {
    super('INVALID_PAYLOAD', message);
  }
}

/** The handler ran past its `timeoutMs` and was aborted; retryable. */
export class HandlerTimeoutError extends WarrenError {
  constructor(timeoutMs: number) {
    super('HANDLER_TIMEOUT', `handler did not finish within ${timeoutMs} ms`);
  }
}

/** Another delivery of the same job still holds its claim; retryable. */
export class ClaimBusyError extends WarrenError {
  constructor(key: string) {
    super('CLAIM_BUSY', `job ${key} is being handled by another delivery`);
  }
}

/**
 * The worker is shutting down and gave up on this job before it finished:
 * the delivery is left unacked so the broker redelivers it.
 */
export class ReleasedError extends WarrenError {
  constructor(message = 'released for redelivery (worker shutting down)') {
    super('RELEASED', message);
  }
}

export { NonRetryableError };

/** The dead-letter reason an error stands for, when it skips the retries. */
export function immediateDeadLetterReason(
  error: unknown,
  isRetryable: (error: unknown) => boolean,
): DeadLetterReason | undefined {
  if (error instanceof MalformedMessageError) return 'malformed';
  if (error instanceof InvalidPayloadError) return 'invalid-payload';
  if (error instanceof NonRetryableError) return 'non-retryable';
  if (error instanceof ReleasedError || error instanceof HandlerTimeoutError || error instanceof ClaimBusyError) {
    return undefined;
  }
  return isRetryable(error) ? undefined : 'non-retryable';
}
