import { describe, expect, it } from 'vitest';
import { partitionOf, partitionQueue, partitionRoutingKey, stableHash } from '../../src/streams/partition-hash.ts';

describe('stableHash (FNV-1a 32-bit over UTF-8)', () => {
  it('matches the published FNV-1a test vectors', () => {
    // From the FNV reference test suite (Fowler/Noll/Vo, fnv32a).
    expect(stableHash('')).toBe(0x811c9dc5);
    expect(stableHash('a')).toBe(0xe40c292c);
    expect(stableHash('b')).toBe(0xe70c2de5);
    expect(stableHash('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, not UTF-16 code units', () => {
    // 'é' is C3 A9 in UTF-8: two rounds.
    let h = 0x811c9dc5;
    for (const b of [0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    expect(stableHash('é')).toBe(h);
    expect(stableHash('é')).not.toBe(stableHash('\u00e9'.normalize('NFD')));
  });

  it('gives fixed partitions that other languages must reproduce', () => {
    // These vectors are the contract: changing them moves keys between partitions.
    expect(stableHash('order-1')).toBe(0x2b7fcd6d);
    expect(partitionOf('order-1', 4)).toBe(1);
    expect(partitionOf('order-1', 3)).toBe(1);
    expect(stableHash('order-2')).toBe(0x287fc8b4);
    expect(partitionOf('order-2', 4)).toBe(0);
    expect(stableHash('user:42')).toBe(0x2f6b7b82);
    expect(partitionOf('user:42', 4)).toBe(2);
    expect(stableHash('é')).toBe(0x1e9de8c1);
  });

  it('spreads 1,000 keys over 4 partitions roughly evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i += 1) counts[partitionOf(`key-${i}`, 4)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(180);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionOf('k', 0)).toThrow(RangeError);
    expect(() => partitionOf('k', 1.5)).toThrow(RangeError);
  });

  it('names partitions p<i> and their queues <stream>.p<i>', () => {
    expect(partitionRoutingKey(3)).toBe('p3');
    expect(partitionQueue('orders', 0)).toBe('orders.p0');
  });
});
