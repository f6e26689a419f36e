import { WarrenError } from '../errors.ts';

/** The topology declares no event type of that name. */
export class UnknownEventTypeError extends WarrenError {
  constructor(
    readonly eventType: string,
    readonly known: readonly string[],
  ) {
    super('UNKNOWN_EVENT_TYPE', `no event type "${eventType}"`);
  }
}

/**
 * A member's commit found its partition owned by another generation: the
 * group rebalanced and someone else now owns it. Nothing of the batch was
 * committed; the member stops consuming that partition.
 */
export class FencedError extends WarrenError {
  constructor(
    readonly stream: string,
    readonly group: string,
    readonly partition: number,
    readonly generation: number,
  ) {
    super('FENCED', `group "${group}" lost partition ${partition} of stream "${stream}" (generation ${generation} is no longer current)`);
  }
}
