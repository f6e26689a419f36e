import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { withCleanup } from '../lib/cleanup.ts';
import { childResult } from '../lib/processes.ts';
import { deleteRedisKeys, REDIS_URL } from '../lib/redis-keys.ts';

/**
 * BullMQ, what many teams pick instead of a broker: the same number of no-op
 * jobs enqueued and processed on the local Redis (REDIS_URL), each run under a
 * key prefix of its own that is deleted afterwards (and on Ctrl-C). The work
 * runs in child processes (bullmq-child.ts). Jobs/s.
 */

const CHILD = 'bench/peers/bullmq-child.ts';
/** Jobs per addBulk call: as many as warren and raw keep awaiting a confirm in the publish rows. */
export const BULLMQ_CHUNK = 1_000;

/** `count` jobs enqueued beforehand (not timed), then drained by one Worker at `concurrency`. */
export async function bullmqProcess(options: { count: number; concurrency: number }): Promise<number> {
  return inPrefix(async (prefix) => {
    await enqueue(prefix, options.count);
    const result = await childResult<{ rate: number }>(
      ['--import', 'tsx', CHILD, 'process', prefix, String(options.count), String(options.concurrency)],
      {},
      120_000 + options.count * 10,
    );
    return result.rate;
  });
}

/** Jobs/s of `Queue.addBulk` over `count` jobs in chunks of BULLMQ_CHUNK. */
export async function bullmqEnqueue(options: { count: number }): Promise<number> {
  return inPrefix((prefix) => enqueue(prefix, options.count));
}

async function enqueue(prefix: string, count: number): Promise<number> {
  const result = await childResult<{ rate: number }>(['--import', 'tsx', CHILD, 'enqueue', prefix, String(count), String(BULLMQ_CHUNK)], {}, 120_000 + count * 10);
  return result.rate;
}

async function inPrefix<T>(use: (prefix: string) => Promise<T>): Promise<T> {
  const prefix = `warren-bench-bullmq-${randomBytes(4).toString('hex')}`;
  return withCleanup(`Redis keys ${prefix}*`, () => deleteRedisKeys(`${prefix}:`), () => use(prefix));
}

/** What the Redis under BullMQ persists (`appendonly`, `save`), for the results: BullMQ's durability is Redis's. */
export async function redisPersistence(url = REDIS_URL): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, save] = (await redis.config('GET', 'save')) as string[];
    return `appendonly ${appendonly ?? '?'}, save "${save ?? '?'}"`;
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    redis.disconnect();
  }
}
