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

/** A replay target the rules refuse: a shard queue, a queue outside the topology, no target at all. Nothing was touched. */
export class ReplayTargetError extends WarrenError {
  constructor(message: string) {
    super('DLQ_REFUSED_TARGET', message);
  }
}

/** Another DLQ pass on the same queue is running in this process: one at a time, or their counts would mix. */
export class DlqBusyError extends WarrenError {
  constructor(queue: string) {
    super('DLQ_BUSY', `a list, replay or purge of this queue is already running; try again when it ends (queue ${JSON.stringify(queue.slice(0, 200))})`);
  }
}
