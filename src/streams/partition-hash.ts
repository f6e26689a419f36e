/**
 * Pure: which partition of a stream an event key goes to.
 *
 * The function is part of warren's contract, fixed for good: producers in
 * other languages compute it to publish straight to `p<partition>`, and a
 * different function would move keys between partitions (breaking per-key
 * order). It is 32-bit FNV-1a over the key's UTF-8 bytes
 * (offset basis 0x811c9dc5, prime 0x01000193, arithmetic mod 2^32), taken as
 * an unsigned integer, then `mod partitions`.
 *
 *   h = 0x811c9dc5
 *   for each byte b of utf8(key): h = ((h XOR b) * 0x01000193) mod 2^32
 *   partition = h mod partitions
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit of the UTF-8 bytes of `key`, unsigned. */
export function stableHash(key: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    // Math.imul keeps the product in 32 bits exactly (a float multiply would lose the low bits).
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The partition (0-based) of `key` on a stream of `partitions` partitions. */
export function partitionOf(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return stableHash(key) % partitions;
}

/** The routing key (and queue suffix) of partition `index`: `p0`, `p1`, … */
export function partitionRoutingKey(index: number): string {
  return `p${index}`;
}

/** The stream queue of partition `index` of stream `stream`: `<stream>.p<index>`. */
export function partitionQueue(stream: string, index: number): string {
  return `${stream}.${partitionRoutingKey(index)}`;
}
