import type { StreamWorkerDefinition } from './stream-worker.ts';

/**
 * The mark `defineStreamWorker` puts on what it returns, so `warren worker`
 * tells a stream group's module from a job worker's (`defineWorker` has its
 * own) without importing the stream worker and its PostgreSQL client.
 * `Symbol.for`: two copies of warren in one process still agree.
 */
const STREAM_WORKER_DEFINITION = Symbol.for('warren.stream-worker-definition');

export function brandStreamWorker<Definition extends object>(definition: Definition): Definition {
  return { ...definition, [STREAM_WORKER_DEFINITION]: true };
}

export function isStreamWorkerDefinition(value: unknown): value is StreamWorkerDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[STREAM_WORKER_DEFINITION] === true;
}
