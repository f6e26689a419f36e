import { describe, expect, it } from 'vitest';
import { MEMORY_STORE_DEFAULTS, MemoryIdempotencyStore, resolveMemoryStoreOptions } from '../../src/idempotency/memory.ts';
import type { ClaimResult } from '../../src/idempotency/store.ts';

const LEASE = 30_000;

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function expectClaimed(result: ClaimResult): Extract<ClaimResult, { status: 'claimed' }> {
  if (result.status !== 'claimed') throw new Error(`expected claimed, got ${result.status}`);
  return result;
}

async function completeKey(store: MemoryIdempotencyStore, key: string): Promise<void> {
  await expectClaimed(await store.claim(key, LEASE)).complete();
}

describe('MemoryIdempotencyStore', () => {
  it('claims a new key and reports done after complete', async () => {
    const store = new MemoryIdempotencyStore();
    const claim = expectClaimed(await store.claim('job-1', LEASE));
    expect(claim.tx).toBeUndefined();
    await claim.complete();
    expect((await store.claim('job-1', LEASE)).status).toBe('done');
  });

  it('reports busy to a second claim of a live key, concurrent or not', async () => {
    const store = new MemoryIdempotencyStore();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.claim('job-1', LEASE)));
    expect(results.filter((r) => r.status === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'busy')).toHaveLength(19);
  });

  it('makes a released key claimable again, and not done', async () => {
    const store = new MemoryIdempotencyStore();
    await expectClaimed(await store.claim('job-1', LEASE)).release();
    const again = expectClaimed(await store.claim('job-1', LEASE));
    await again.complete();
    expect((await store.claim('job-1', LEASE)).status).toBe('done');
  });

  it('lets a claim whose lease ran out be taken over, and the stale holder cannot free the new claim', async () => {
    const clock = fakeClock();
    const store = new MemoryIdempotencyStore({ now: clock.now });
    const stale = expectClaimed(await store.claim('job-1', 1_000));
    clock.advance(999);
    expect((await store.claim('job-1', 1_000)).status).toBe('busy');
    clock.advance(1);
    const fresh = expectClaimed(await store.claim('job-1', 1_000));
    await stale.release();
    expect((await store.claim('job-1', 1_000)).status).toBe('busy');
    await fresh.release();
    expect((await store.claim('job-1', 1_000)).status).toBe('claimed');
  });

  it('forgets a done marker once its TTL has passed', async () => {
    const clock = fakeClock();
    const store = new MemoryIdempotencyStore({ now: clock.now, doneTtlMs: 5_000 });
    await completeKey(store, 'job-1');
    clock.advance(4_999);
    expect((await store.claim('job-1', LEASE)).status).toBe('done');
    clock.advance(1);
    expect((await store.claim('job-1', LEASE)).status).toBe('claimed');
  });

  it('keeps at most maxEntries done markers, evicting the least recently used', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await completeKey(store, key);
    expect((await store.claim('a', LEASE)).status).toBe('done'); // touch a: b is now the oldest
    await completeKey(store, 'd');
    expect(store.size).toBe(3);
    expect((await store.claim('b', LEASE)).status).toBe('claimed');
    for (const key of ['a', 'c', 'd']) expect((await store.claim(key, LEASE)).status).toBe('done');
  });

  it('forgets abandoned claims whose leases ran out, keeping live ones, once there are more than maxEntries', async () => {
    const clock = fakeClock();
    const store = new MemoryIdempotencyStore({ now: clock.now, maxEntries: 2 });
    for (const key of ['a', 'b']) await store.claim(key, 1_000);
    clock.advance(1_000);
    await store.claim('c', 1_000);
    await store.claim('d', 1_000);
    expect(store.claimsHeld).toBe(2);
    expect((await store.claim('c', 1_000)).status).toBe('busy');
  });

  it('treats complete and release as settled after the first call', async () => {
    const store = new MemoryIdempotencyStore();
    const claim = expectClaimed(await store.claim('job-1', LEASE));
    await claim.release();
    await claim.complete();
    expect((await store.claim('job-1', LEASE)).status).toBe('claimed');
  });

  it('rejects a lease that is not a positive number', async () => {
    const store = new MemoryIdempotencyStore();
    await expect(store.claim('job-1', 0)).rejects.toThrow(RangeError);
  });
});

describe('resolveMemoryStoreOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveMemoryStoreOptions({})).toEqual(MEMORY_STORE_DEFAULTS);
    expect(resolveMemoryStoreOptions({ maxEntries: undefined }).maxEntries).toBe(MEMORY_STORE_DEFAULTS.maxEntries);
  });

  it('rejects out-of-range values', () => {
    expect(() => resolveMemoryStoreOptions({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => resolveMemoryStoreOptions({ maxEntries: 1.5 })).toThrow(/maxEntries/);
    expect(() => resolveMemoryStoreOptions({ doneTtlMs: -1 })).toThrow(/doneTtlMs/);
  });
});
