import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyStoreError } from '../../src/idempotency/errors.ts';
import { createIdempotencyStore } from '../../src/idempotency/index.ts';
import { RedisIdempotencyStore, redisKeys } from '../../src/idempotency/redis.ts';
import type { ClaimResult } from '../../src/idempotency/store.ts';

// Against the local Redis; fails loudly rather than skipping when there is none.
const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) throw new Error('REDIS_URL is not set (e.g. redis://127.0.0.1:6379): the Redis idempotency tests need a Redis server');

const PREFIX = `warren-test:idem:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
const LEASE = 30_000;

function expectClaimed(result: ClaimResult): Extract<ClaimResult, { status: 'claimed' }> {
  if (result.status !== 'claimed') throw new Error(`expected claimed, got ${result.status}`);
  return result;
}

describe('RedisIdempotencyStore', () => {
  let admin: Redis;
  const stores: RedisIdempotencyStore[] = [];
  const open = (options: { leaseMs?: number; doneTtlMs?: number } = {}): RedisIdempotencyStore => {
    const store = new RedisIdempotencyStore({ url: REDIS_URL, prefix: PREFIX, ...options });
    stores.push(store);
    return store;
  };
  const key = (name: string): string => `${name}-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    admin = new Redis(REDIS_URL);
    await admin.ping();
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    const leftovers: string[] = [];
    for await (const batch of admin.scanStream({ match: `${PREFIX}*`, count: 500 })) leftovers.push(...(batch as string[]));
    if (leftovers.length > 0) await admin.del(...leftovers);
    await admin.quit();
  });

  it('gives exactly one of many concurrent claims of one key, across connections', async () => {
    const job = key('race');
    const contenders = [open(), open(), open(), open()];
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => contenders[i % contenders.length]!.claim(job, LEASE)));
    expect(results.filter((r) => r.status === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'busy')).toHaveLength(199);
  });

  it('reports done after complete, with a TTL on the marker and no lock left behind', async () => {
    const store = open({ doneTtlMs: 60_000 });
    const job = key('done');
    await expectClaimed(await store.claim(job, LEASE)).complete();
    expect((await store.claim(job, LEASE)).status).toBe('done');
    expect((await open().claim(job, LEASE)).status).toBe('done');
    const keys = redisKeys(PREFIX, job);
    expect(await admin.exists(keys.lock)).toBe(0);
    const ttl = await admin.pttl(keys.done);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('makes a released key claimable again, and not done', async () => {
    const store = open();
    const job = key('release');
    await expectClaimed(await store.claim(job, LEASE)).release();
    const again = expectClaimed(await open().claim(job, LEASE));
    expect((await store.claim(job, LEASE)).status).toBe('busy');
    await again.release();
    expect((await store.claim(job, LEASE)).status).toBe('claimed');
  });

  it('lets another claim a key once the lease of a dead holder has run out, and no earlier', async () => {
    const job = key('lease');
    const dead = open();
    const claimedAt = Date.now();
    expectClaimed(await dead.claim(job, 1_000));
    await dead.close(); // the holder is gone without settling its claim
    const survivor = open();
    let result = await survivor.claim(job, LEASE);
    while (result.status === 'busy' && Date.now() - claimedAt < 10_000) {
      await sleep(50);
      result = await survivor.claim(job, LEASE);
    }
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(1_000);
    await expectClaimed(result).complete();
    expect((await survivor.claim(job, LEASE)).status).toBe('done');
  });

  it('never lets a stale holder free the lock of the claim that took over', async () => {
    const job = key('stale');
    const store = open();
    const stale = expectClaimed(await store.claim(job, 200));
    await sleep(350);
    const fresh = expectClaimed(await store.claim(job, LEASE));
    await stale.release();
    expect((await store.claim(job, LEASE)).status).toBe('busy');
    await fresh.release();
  });

  it('still records done when a holder completes after its lease ran out (the work happened)', async () => {
    const job = key('late');
    const store = open();
    const late = expectClaimed(await store.claim(job, 200));
    await sleep(350);
    const fresh = expectClaimed(await store.claim(job, LEASE));
    await late.complete();
    expect(await admin.exists(redisKeys(PREFIX, job).lock)).toBe(1); // the fresh claim keeps its lock
    expect((await store.claim(job, LEASE)).status).toBe('done');
    await fresh.release();
  });

  it('applies the configured lease as a floor under the one the worker asks for', async () => {
    const job = key('floor');
    const store = open({ leaseMs: 60_000 });
    expectClaimed(await store.claim(job, 100));
    const pttl = await admin.pttl(redisKeys(PREFIX, job).lock);
    expect(pttl).toBeGreaterThan(30_000);
  });

  it('is built by createIdempotencyStore from a redis config', async () => {
    const store = await createIdempotencyStore({ kind: 'redis', url: REDIS_URL, prefix: PREFIX });
    try {
      expect(store.kind).toBe('redis');
      const job = key('factory');
      await expectClaimed(await store.claim(job, LEASE)).complete();
      expect((await store.claim(job, LEASE)).status).toBe('done');
    } finally {
      await store.close();
    }
  });

  it('refuses to create a store for a Redis that does not answer, password redacted', async () => {
    const error = await createIdempotencyStore({ kind: 'redis', url: 'redis://:sekrit@127.0.0.1:1', prefix: PREFIX }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect((error as Error).message).toContain('redis://:***@127.0.0.1:1');
    expect((error as Error).message).not.toContain('sekrit');
  });

  it('fails with a store error, password redacted, when Redis cannot be reached', async () => {
    const store = new RedisIdempotencyStore({ url: 'redis://:sekrit@127.0.0.1:1', prefix: PREFIX });
    try {
      const error = await store.claim(key('down'), LEASE).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(IdempotencyStoreError);
      expect(String((error as Error).message)).not.toContain('sekrit');
    } finally {
      await store.close();
    }
  });
});
