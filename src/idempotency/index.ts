/** Idempotency stores: pick one with `createIdempotencyStore`. */
import { MemoryIdempotencyStore, type MemoryStoreOptions } from './memory.ts';
import type { IdempotencyStore } from './store.ts';

export type { ClaimResult, IdempotencyStore, IdempotencyTransaction } from './store.ts';
export { MEMORY_STORE_DEFAULTS, MemoryIdempotencyStore, type MemoryStoreOptions } from './memory.ts';

export type IdempotencyStoreConfig = { kind: 'memory' } & MemoryStoreOptions;

export async function createIdempotencyStore(config: IdempotencyStoreConfig = { kind: 'memory' }): Promise<IdempotencyStore> {
  const { kind, ...options } = config;
  switch (kind) {
    case 'memory':
      return new MemoryIdempotencyStore(options);
  }
}
