import type { Logger } from '../log.ts';
import { redactText, redactUrl } from '../broker/urls.ts';

/**
 * A consumer's `rateLimit: { max, per }` as a GCRA with no burst: every job
 * reserves the next free slot, slots are `per / max` apart, and the job
 * waits for its slot. So any window of length `per` holds at most `max`
 * starts (a downstream quota is never exceeded, even at a window's edge);
 * the price is that a burst is spread out rather than let through at once.
 * One reservation is one round trip, with no polling: a job asks once and
 * knows how long to wait.
 *
 * Shared (Redis): the slot clock is one key per consumer, moved by a Lua
 * script on Redis's own clock (`TIME`), so every worker process of the
 * consumer, on any host, draws from the same slots. Per process (memory):
 * the same arithmetic in this process only — N processes make N× the rate.
 */

export interface RateLimit {
  max: number;
  perMs: number;
}

export interface RateLimiter {
  /** 'shared (redis)' or 'per process': said in the worker's start log. */
  readonly scope: string;
  /** Takes the next slot; resolves with how many ms to wait until it. */
  reserve(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Pure GCRA step (no burst): the slot for a request arriving at `now` is the
 * later of `now` and the theoretical arrival time; the next one is a full
 * interval after it. All in the same unit (the Lua script uses µs).
 */
export function gcraReserve(tat: number, now: number, interval: number): { slot: number; tat: number; wait: number } {
  const slot = Math.max(tat, now);
  return { slot, tat: slot + interval, wait: slot - now };
}

export function intervalMs(limit: RateLimit): number {
  return limit.perMs / limit.max;
}

export class LocalRateLimiter implements RateLimiter {
  readonly scope = 'per process';
  private tat = 0;
  private readonly interval: number;

  constructor(limit: RateLimit, private readonly now: () => number = () => performance.now()) {
    this.interval = intervalMs(limit);
  }

  reserve(): Promise<number> {
    const step = gcraReserve(this.tat, this.now(), this.interval);
    this.tat = step.tat;
    return Promise.resolve(step.wait);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * KEYS[1]: the consumer's slot clock. ARGV[1]: interval in µs.
 * Returns the wait in µs. The key expires once its slots are past.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local interval = tonumber(ARGV[1])
local slot = math.max(tat, now)
local nextTat = slot + interval
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1000)
return math.floor(slot - now)`;

export const RATE_LIMIT_KEY_PREFIX = 'warren:ratelimit:';

export async function createRedisRateLimiter(options: { url: string; key: string; limit: RateLimit; logger?: Logger }): Promise<RateLimiter> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(options.url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  redis.on('error', (error: Error) => {
    options.logger?.warn({ err: redactText(error.message), redis: redactUrl(options.url) }, 'rate limiter: redis connection error');
  });
  redis.defineCommand('warrenReserve', { numberOfKeys: 1, lua: RESERVE });
  const intervalUs = Math.max(1, Math.round(intervalMs(options.limit) * 1000));
  try {
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`rate limiter: cannot reach ${redactUrl(options.url)}: ${redactText(error instanceof Error ? error.message : String(error))}`, { cause: error });
  }
  let closing: Promise<void> | undefined;
  const reserve = (redis as unknown as { warrenReserve(key: string, interval: number): Promise<number> }).warrenReserve.bind(redis);
  return {
    scope: 'shared (redis)',
    reserve: async () => (await reserve(options.key, intervalUs)) / 1000,
    close: () => {
      closing ??= redis.quit().then(
        () => undefined,
        () => redis.disconnect(),
      );
      return closing;
    },
  };
}
