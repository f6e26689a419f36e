import type { AttemptOutcome, JobEventKind } from './records.ts';

/**
 * Pure: a job's state for one consumer, from that consumer's attempts and
 * the DLQ events of its dead letter.
 *
 * - `succeeded` once any attempt succeeded (a later duplicate delivery, or
 *   a replay of an old copy, does not undo an effect that happened);
 * - else `duplicate` when a delivery found it already done (the attempt
 *   that did it is not in the history: written before history was on, or
 *   dropped while the database was away);
 * - else the last thing that happened: the last attempt's outcome
 *   (`retried`: a later attempt is due; `dead-lettered`; `released`: handed
 *   back for redelivery), or `replayed` / `purged` when a DLQ replay or
 *   purge came after it.
 *
 * Attempts are recorded when they end, so a running attempt shows as the
 * state before it. With nothing recorded for a consumer it is `pending`.
 */
export type ConsumerState = AttemptOutcome | JobEventKind | 'pending';

export interface StateAttempt {
  attempt: number;
  finishedAt: Date;
  outcome: AttemptOutcome;
}

export interface StateEvent {
  kind: JobEventKind;
  at: Date;
}

export function consumerState(attempts: readonly StateAttempt[], events: readonly StateEvent[]): ConsumerState {
  if (attempts.some((a) => a.outcome === 'succeeded')) return 'succeeded';
  if (attempts.some((a) => a.outcome === 'duplicate')) return 'duplicate';
  let last: { at: number; rank: number; state: ConsumerState } | undefined;
  const offer = (at: number, rank: number, state: ConsumerState) => {
    if (last === undefined || at > last.at || (at === last.at && rank >= last.rank)) last = { at, rank, state };
  };
  // On equal times a later attempt number wins, and an event wins over the
  // attempt it follows (a replay is always after the dead-lettering it undoes).
  for (const a of attempts) offer(a.finishedAt.getTime(), a.attempt, a.outcome);
  for (const e of events) offer(e.at.getTime(), Number.MAX_SAFE_INTEGER, e.kind);
  return last?.state ?? 'pending';
}

/** Every state a consumer can be in: the search route's `state` filter. */
export const CONSUMER_STATES = ['succeeded', 'retried', 'dead-lettered', 'duplicate', 'released', 'replayed', 'purged'] as const satisfies readonly ConsumerState[];
