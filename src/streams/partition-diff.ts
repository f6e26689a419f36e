import type { LiveTopology } from '../topology/inspect.ts';
import type { StreamPlan } from './stream-plan.ts';

/**
 * Pure: a stream whose partition count on the broker differs from the
 * file's. Apply cannot fix that in place: `stableHash(key) mod N` sends
 * most keys to another partition when N changes, so a key's new events
 * would be read by another member than its old ones (no order between
 * them), and every group's committed offsets refer to the old partitions.
 */
export interface PartitionCountConflict {
  stream: string;
  live: number;
  wanted: number;
  migration: string;
}

export function partitionCountConflicts(streams: readonly StreamPlan[], live: Pick<LiveTopology, 'queues'>): PartitionCountConflict[] {
  return streams.flatMap((stream) => {
    const pattern = new RegExp(`^${escapeRegExp(stream.name)}\\.p(\\d+)$`);
    const indices = new Set<number>();
    for (const queue of live.queues) {
      const match = pattern.exec(queue.name);
      if (match && queue.type === 'stream') indices.add(Number(match[1]));
    }
    if (indices.size === 0 || indices.size === stream.partitions) return [];
    return [
      {
        stream: stream.name,
        live: indices.size,
        wanted: stream.partitions,
        migration:
          `stream ${stream.name} has ${indices.size} partitions on the broker and ${stream.partitions} in the file: ` +
          'changing the count moves most keys to another partition (stableHash(key) mod N), which breaks per-key order ' +
          'and every group\'s offsets. Migrate instead: declare a new stream (e.g. ' +
          `${stream.name}-v2) with ${stream.partitions} partitions, point the event types at it, let every group drain the old ` +
          'one to its end, start the groups on the new stream at `first`, then remove the old stream from the file',
      },
    ];
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
