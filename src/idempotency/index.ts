/**
 * Idempotency stores: pick one with `createIdempotencyStore`. The Redis and
 * PostgreSQL stores are loaded on demand, so a worker on the default memory
 * store never opens (or imports) a database client.
 */
import { MemoryIdempotencyStore, type MemoryStoreOptions } from './memory.ts';
import type { PostgresStoreOptions } from './postgres.ts';
import type { RedisStoreOptions } from './redis.ts';
import type { IdempotencyStore } from './store.ts';

export type { ClaimResult, IdempotencyStore, IdempotencyTransaction } from './store.ts';
export { ClaimLostError, IdempotencyStoreError } from './errors.ts';
export { MEMORY_STORE_DEFAULTS, MemoryIdempotencyStore, type MemoryStoreOptions } from './memory.ts';
export { REDIS_STORE_DEFAULTS, RedisIdempotencyStore, type RedisStoreOptions } from './redis.ts';
export { POSTGRES_STORE_DEFAULTS, PostgresIdempotencyStore, type PostgresStoreOptions } from './postgres.ts';

export type IdempotencyStoreConfig =
  | ({ kind: 'memory' } & MemoryStoreOptions)
  | ({ kind: 'redis' } & RedisStoreOptions)
  | ({ kind: 'postgres' } & PostgresStoreOptions);

export async function createIdempotencyStore(config: IdempotencyStoreConfig = { kind: 'memory' }): Promise<IdempotencyStore> {
  switch (config.kind) {
    case 'memory': {
      const { kind: _, ...options } = config;
      return new MemoryIdempotencyStore(options);
    }
    case 'redis': {
      const { kind: _, ...options } = config;
      const { RedisIdempotencyStore } = await import('./redis.ts');
      const store = new RedisIdempotencyStore(options);
      return readyOrClosed(store, () => store.ready());
    }
    case 'postgres': {
      const { kind: _, ...options } = config;
      const { PostgresIdempotencyStore } = await import('./postgres.ts');
      const store = new PostgresIdempotencyStore(options);
      return readyOrClosed(store, () => store.ready());
    }
  }
}

/** Connects (and for PostgreSQL creates the table) now, so a bad URL or table fails at start-up rather than on the first job. */
async function readyOrClosed<S extends IdempotencyStore>(store: S, ready: () => Promise<void>): Promise<S> {
  try {
    await ready();
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}
