import { bucketOf } from '../message/key-hash.ts';

/**
 * Pure: which partition of a stream an event key goes to.
 *
 * The function is part of warren's contract, fixed for good: producers in
 * other languages compute it to publish straight to `p<partition>`, and a
 * different function would move keys between partitions (breaking per-key
 * order). It is `stableHash` (src/message/key-hash.ts, shared with sharded
 * consumers' shards): 32-bit FNV-1a over the key's UTF-8 bytes
 * (offset basis 0x811c9dc5, prime 0x01000193, arithmetic mod 2^32), taken as
 * an unsigned integer, then `mod partitions`.
 *
 *   h = 0x811c9dc5
 *   for each byte b of utf8(key): h = ((h XOR b) * 0x01000193) mod 2^32
 *   partition = h mod partitions
 */

export { stableHash } from '../message/key-hash.ts';

/** The partition (0-based) of `key` on a stream of `partitions` partitions: `stableHash(key) mod partitions`. */
export function partitionOf(key: string, partitions: number): number {
  return bucketOf(key, partitions, 'partitions');
}

/** The routing key (and queue suffix) of partition `index`: `p0`, `p1`, … */
export function partitionRoutingKey(index: number): string {
  return `p${index}`;
}

/** The stream queue of partition `index` of stream `stream`: `<stream>.p<index>`. */
export function partitionQueue(stream: string, index: number): string {
  return `${stream}.${partitionRoutingKey(index)}`;
}
