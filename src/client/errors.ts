import { WarrenError } from '../errors.ts';

/**
 * What `enqueue` refuses before anything reaches the broker. Each maps to
 * the HTTP producer's 4xx of the same input (see `producer/job-routes.ts`),
 * so the two doors answer alike. Broker failures keep their own classes
 * (`BrokerUnavailableError`, `PublishRejectedError`, `UnroutableError`).
 */

/** The topology declares no job type of that name. */
export class UnknownJobTypeError extends WarrenError {
  constructor(
    readonly jobType: string,
    readonly known: readonly string[],
  ) {
    super('UNKNOWN_JOB_TYPE', `no job type "${jobType}"`);
  }
}

/** Where a payload fails its job type's JSON Schema (or lacks its ordering key). */
export interface PayloadIssue {
  path: Array<string | number>;
  message: string;
}

/** The payload does not match the job type's schema in the topology file. */
export class InvalidJobPayloadError extends WarrenError {
  constructor(
    message: string,
    readonly issues: readonly PayloadIssue[],
  ) {
    super('INVALID_PAYLOAD', message);
  }
}

/** An enqueue option that cannot go on an AMQP message as given. */
export type JobOption = 'idempotencyKey' | 'correlationId' | 'headers' | 'delay' | 'runAt' | 'priority';

export class InvalidJobOptionError extends WarrenError {
  constructor(
    readonly option: JobOption,
    message: string,
  ) {
    super('INVALID_OPTION', message);
  }
}

/**
 * A batch item not sent because an earlier item with the same ordering key
 * failed: sending it would let it overtake that job once the caller retries.
 */
export class PrecedingJobFailedError extends WarrenError {
  constructor(
    readonly orderingKey: string,
    readonly precedingIndex: number,
  ) {
    super('PRECEDING_JOB_FAILED', `not sent: item ${precedingIndex} with the same ordering key "${orderingKey}" was not accepted`);
  }
}

/** `enqueue` after `close()`. */
export class JobClientClosedError extends WarrenError {
  constructor() {
    super('CLIENT_CLOSED', 'the job client is closed');
  }
}
