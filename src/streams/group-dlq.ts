import type { StreamPlan } from './stream-plan.ts';

/**
 * Pure: the dead-letter side of consumer groups — the DLQ's name, the
 * headers a dead-lettered record carries, and the header a replayed one
 * carries. Shared by the stream worker (which writes them) and DLQ replay
 * (which reads them), so neither imports the other.
 */

/** Headers of a dead-lettered stream record (besides the failure context), and of its replay. */
export const STREAM_HEADERS = {
  /** On a dead letter: the group that failed it. */
  group: 'x-warren-stream-group',
  /** On a dead letter: the partition it was read from (a replay goes back there). */
  partition: 'x-warren-stream-partition',
  /** On a dead letter: its offset in that partition (on a replayed record: the offset it was dead-lettered from). */
  offset: 'x-warren-stream-offset',
  /**
   * On a record replayed from a group's DLQ into the stream: the one group
   * that applies it. Every other group's member skips it (and commits past it).
   */
  replayForGroup: 'x-warren-replay-for-group',
} as const;

const DLQ_SUFFIX = '.dlq';

/** The DLQ of a consumer group: a quorum queue the worker declares at start. */
export function groupDeadLetterQueue(stream: string, group: string): string {
  return `${stream}.${group}${DLQ_SUFFIX}`;
}

export type GroupDeadLetterQueue =
  | { kind: 'group'; stream: StreamPlan; group: string }
  /** Two streams of the plan are prefixes of the name (`a` and `a.b` for `a.b.c.dlq`): whose it is cannot be told. */
  | { kind: 'ambiguous'; streams: StreamPlan[] };

/**
 * Whose group DLQ `queue` is: `<stream>.<group>.dlq` where `<stream>` is a
 * stream of the plan. Names may contain dots, so the stream is matched as a
 * known prefix and the group is whatever lies between it and `.dlq`.
 * `undefined` when no stream of the plan fits.
 */
export function groupDeadLetterQueueOf(streams: readonly StreamPlan[] | undefined, queue: string): GroupDeadLetterQueue | undefined {
  if (!queue.endsWith(DLQ_SUFFIX)) return undefined;
  const fits = (streams ?? []).filter((stream) => queue.startsWith(`${stream.name}.`) && queue.length > stream.name.length + 1 + DLQ_SUFFIX.length);
  const [only] = fits;
  if (only === undefined) return undefined;
  if (fits.length > 1) return { kind: 'ambiguous', streams: fits };
  return { kind: 'group', stream: only, group: queue.slice(only.name.length + 1, -DLQ_SUFFIX.length) };
}

/** The group a record was replayed for (its `x-warren-replay-for-group` header), or `undefined` for an ordinary record. */
export function replayedForGroup(headers: Record<string, unknown> | undefined): string | undefined {
  const value = headers?.[STREAM_HEADERS.replayForGroup];
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}
