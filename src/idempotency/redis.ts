import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { redactText, redactUrl } from '../broker/urls.ts';
import type { Logger } from '../log.ts';
import { IdempotencyStoreError } from './errors.ts';
import { assertLease } from './memory.ts';
import type { ClaimResult, IdempotencyStore } from './store.ts';
import { requireInteger } from '../options.ts';

/**
 * Shared between processes through Redis. A claim is a lock key set with
 * `NX PX <lease>` holding a random owner token; the check of the done marker
 * and the lock are one Lua script, so no delivery can slip between them.
 * `complete()` writes the done marker (with a TTL) and drops the lock only if
 * it is still ours; `release()` drops the lock only if ours. The lock of a
 * holder that died expires with its lease, and the job is claimable again.
 */

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prepended to every key. @defaultValue 'warren:idem:' */
  prefix?: string;
  /** Lower bound on every lease, whatever the worker asks for. @defaultValue 0 (use the worker's) */
  leaseMs?: number;
  /** How long a done marker is kept. @defaultValue 7 days */
  doneTtlMs?: number;
  /** Where connection trouble is reported. @defaultValue none (errors still reach the caller) */
  logger?: Logger;
}

export type ResolvedRedisStoreOptions = Required<Omit<RedisStoreOptions, 'logger'>> & Pick<RedisStoreOptions, 'logger'>;

export const REDIS_STORE_DEFAULTS = {
  prefix: 'warren:idem:',
  leaseMs: 0,
  doneTtlMs: 7 * 24 * 60 * 60 * 1000,
} as const;

export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  const resolved = {
    url: options.url,
    prefix: options.prefix ?? REDIS_STORE_DEFAULTS.prefix,
    leaseMs: options.leaseMs ?? REDIS_STORE_DEFAULTS.leaseMs,
    doneTtlMs: options.doneTtlMs ?? REDIS_STORE_DEFAULTS.doneTtlMs,
    logger: options.logger,
  };
  requireInteger('leaseMs', resolved.leaseMs, 0);
  requireInteger('doneTtlMs', resolved.doneTtlMs, 1);
  return resolved;
}

/** KEYS: lock, done. ARGV: owner, lease ms. */
const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'done' end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'claimed' end
return 'busy'`;

/** KEYS: lock, done. ARGV: owner, done TTL ms. Returns 1 when the lock was still ours. */
const COMPLETE = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

/** KEYS: lock. ARGV: owner. Returns 1 when the lock was still ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

export function redisKeys(prefix: string, key: string): { lock: string; done: string } {
  return { lock: `${prefix}lock:${key}`, done: `${prefix}done:${key}` };
}

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly kind = 'redis';
  readonly options: ResolvedRedisStoreOptions;
  private readonly redis: Redis;
  private closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    this.options = resolveRedisStoreOptions(options);
    // Few retries per command: a claim should fail fast (the delivery is retried later), not hang.
    // Auto-pipelining sends every command issued in one event-loop turn as
    // one write: the claims (and completions) of the jobs in flight together
    // share a round trip instead of taking one each.
    this.redis = new Redis(this.options.url, { maxRetriesPerRequest: 2, lazyConnect: false, enableAutoPipelining: true });
    this.redis.on('error', (error: Error) => {
      this.options.logger?.warn({ err: redactText(error.message), redis: redactUrl(this.options.url) }, 'idempotency store: redis connection error');
    });
  }

  /** Checks that Redis answers, so that a wrong URL fails at start-up rather than on the first job. */
  async ready(): Promise<void> {
    await this.redis.ping().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      throw new IdempotencyStoreError(`redis idempotency store: cannot reach ${redactUrl(this.options.url)}: ${redactText(message)}`, { cause: error });
    });
  }

  async claim(key: string, leaseMs: number): Promise<ClaimResult> {
    assertLease(leaseMs);
    const keys = redisKeys(this.options.prefix, key);
    const owner = randomUUID();
    const lease = Math.max(Math.ceil(leaseMs), this.options.leaseMs);
    const status = await this.run(CLAIM, [keys.lock, keys.done], [owner, lease]);
    if (status === 'done' || status === 'busy') return { status };
    if (status !== 'claimed') throw new IdempotencyStoreError(`unexpected claim reply from redis: ${String(status)}`);
    return this.claimed(keys, owner);
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
    return this.closing;
  }

  private claimed(keys: { lock: string; done: string }, owner: string): ClaimResult {
    let settled: Promise<void> | undefined;
    return {
      status: 'claimed',
      // A lease that ran out still gets its done marker: the work did happen. Only the lock is guarded by the owner token.
      complete: () => (settled ??= this.run(COMPLETE, [keys.lock, keys.done], [owner, this.options.doneTtlMs]).then(() => undefined)),
      release: () => (settled ??= this.run(RELEASE, [keys.lock], [owner]).then(() => undefined)),
    };
  }

  /** EVALSHA first (the script is cached on the server), EVAL when the server does not know it yet. */
  private async run(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      try {
        return await this.redis.evalsha(sha1(script), keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await this.redis.eval(script, keys.length, ...keys, ...args);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new IdempotencyStoreError(`redis idempotency store: ${redactText(message)}`, { cause: error });
    }
  }
}

const shas = new Map<string, string>();
function sha1(script: string): string {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
}
