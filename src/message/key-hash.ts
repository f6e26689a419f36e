/**
 * Pure: the one hash warren places keys with — a stream's partition and a
 * sharded consumer's shard both come from it, so producers in any language
 * compute one function. It is part of warren's contract, fixed for good: a
 * different function would move keys between partitions or shards (breaking
 * per-key order). 32-bit FNV-1a over the key's UTF-8 bytes (offset basis
 * 0x811c9dc5, prime 0x01000193, arithmetic mod 2^32), as an unsigned integer.
 *
 *   h = 0x811c9dc5
 *   for each byte b of utf8(key): h = ((h XOR b) * 0x01000193) mod 2^32
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

/** `stableHash(key) mod buckets`: the 0-based bucket (partition, shard) of `key` among `buckets`. */
export function bucketOf(key: string, buckets: number, what = 'buckets'): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`${what} must be a positive integer, got ${buckets}`);
  return stableHash(key) % buckets;
}
