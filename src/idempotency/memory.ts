import type { ClaimResult, IdempotencyStore } from './store.ts';
import { requireInteger } from '../options.ts';

/**
 * The default store: everything lives in this process. Two deliveries of one
 * job id to the same process never run at once, and a job done here is
 * skipped while its done marker lives. Nothing is shared between processes,
 * and nothing survives a restart.
 */

export interface MemoryStoreOptions {
  /** Done markers kept; the least recently used goes first. @defaultValue 100_000 */
  maxEntries?: number;
  /** How long a done marker is kept. @defaultValue 24 hours */
  doneTtlMs?: number;
  /** Clock in epoch milliseconds, injectable for tests. @defaultValue Date.now */
  now?: () => number;
}

export type ResolvedMemoryStoreOptions = Required<MemoryStoreOptions>;

export const MEMORY_STORE_DEFAULTS: ResolvedMemoryStoreOptions = {
  maxEntries: 100_000,
  doneTtlMs: 24 * 60 * 60 * 1000,
  now: Date.now,
};

export function resolveMemoryStoreOptions(options: MemoryStoreOptions = {}): ResolvedMemoryStoreOptions {
  const resolved = { ...MEMORY_STORE_DEFAULTS, ...stripUndefined(options) };
  requireInteger('maxEntries', resolved.maxEntries, 1);
  if (!Number.isFinite(resolved.doneTtlMs) || resolved.doneTtlMs <= 0) {
    throw new RangeError(`doneTtlMs must be a positive number of milliseconds, got ${resolved.doneTtlMs}`);
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface LiveClaim {
  /** Which claim of this store holds the key: a counter, unique for the store's life (a UUID per job showed in profiles). */
  owner: number;
  expiresAt: number;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly kind = 'memory';
  readonly options: ResolvedMemoryStoreOptions;
  /** Done markers: key → expiry. A Map iterates in insertion order, so the first key is the least recently used. */
  private readonly done = new Map<string, number>();
  private readonly claims = new Map<string, LiveClaim>();
  private lastOwner = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.options = resolveMemoryStoreOptions(options);
  }

  async claim(key: string, leaseMs: number): Promise<ClaimResult> {
    assertLease(leaseMs);
    const now = this.options.now();
    if (this.isDone(key, now)) return { status: 'done' };
    const live = this.claims.get(key);
    // A lease that ran out means its holder hung past its timeout: the key is claimable again, as in Redis.
    if (live !== undefined && live.expiresAt > now) return { status: 'busy' };
    const owner = ++this.lastOwner;
    this.claims.set(key, { owner, expiresAt: now + leaseMs });
    if (this.claims.size > this.options.maxEntries) this.dropExpiredClaims(now);
    return this.claimed(key, owner);
  }

  /** Done markers currently held (expired ones may still count until they are read or evicted). */
  get size(): number {
    return this.done.size;
  }

  /** Claims currently recorded (settled ones are gone; abandoned ones until swept). */
  get claimsHeld(): number {
    return this.claims.size;
  }

  async close(): Promise<void> {
    this.done.clear();
    this.claims.clear();
  }

  private claimed(key: string, owner: number): ClaimResult {
    let settled = false;
    const settle = (markDone: boolean): void => {
      if (settled) return;
      settled = true;
      // The work happened even if our lease ran out meanwhile, so the done marker is written either way.
      if (markDone) this.markDone(key);
      if (this.claims.get(key)?.owner === owner) this.claims.delete(key);
    };
    return {
      status: 'claimed',
      complete: async () => settle(true),
      release: async () => settle(false),
    };
  }

  /** Claims never settled (a handler that hung for good) would otherwise stay forever. */
  private dropExpiredClaims(now: number): void {
    for (const [key, claim] of this.claims) if (claim.expiresAt <= now) this.claims.delete(key);
  }

  private isDone(key: string, now: number): boolean {
    const expiresAt = this.done.get(key);
    if (expiresAt === undefined) return false;
    this.done.delete(key);
    if (expiresAt <= now) return false;
    this.done.set(key, expiresAt); // re-insert: now the most recently used
    return true;
  }

  private markDone(key: string): void {
    this.done.delete(key);
    this.done.set(key, this.options.now() + this.options.doneTtlMs);
    while (this.done.size > this.options.maxEntries) {
      const oldest = this.done.keys().next();
      if (oldest.done === true) break;
      this.done.delete(oldest.value);
    }
  }
}

export function assertLease(leaseMs: number): void {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new RangeError(`leaseMs must be a positive number of milliseconds, got ${leaseMs}`);
  }
}
