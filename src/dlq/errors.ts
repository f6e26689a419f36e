import { WarrenError } from '../errors.ts';

/** Invalid DLQ command input: filter syntax, a time, a rate, a limit. Nothing was touched. */
export class DlqInputError extends WarrenError {
  constructor(message: string) {
    super('DLQ_INVALID_INPUT', message);
  }
}

/** The queue does not exist, or is not a dead-letter queue of the topology. Nothing was touched. */
export class DlqQueueError extends WarrenError {
  constructor(
    readonly reason: 'unknown-queue' | 'not-a-dlq' | 'unknown-target',
    message: string,
  ) {
    super(reason === 'not-a-dlq' ? 'DLQ_NOT_A_DLQ' : 'DLQ_UNKNOWN_QUEUE', message);
  }
}
