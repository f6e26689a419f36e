import { formatDuration } from '../duration.ts';

/**
 * Every name that warren derives from a consumer. These are part of the
 * public contract (documented in the README): operators see them in the
 * management UI and scripts address them.
 */
export const derivedNames = {
  /** Headers exchange in front of a sharded consumer's queues (routes on `x-warren-shard-<N>`). */
  shardExchange: (consumer: string) => `${consumer}.shard`,
  /** Shard queue `i` (0-based) of a sharded consumer. */
  shardQueue: (workQueue: string, index: number) => `${workQueue}.shard.${index}`,
  /** Delay queue of one retry tier; messages expire back into the work queue. */
  retryQueue: (consumer: string, delayMs: number) => `${consumer}.retry.${formatDuration(delayMs)}`,
  /** Fanout exchange that a consumer's work queues dead-letter into. */
  deadLetterExchange: (consumer: string) => `${consumer}.dlx`,
  /** The dead-letter queue a consumer's failures end in. */
  deadLetterQueue: (consumer: string) => `${consumer}.dlq`,
  /** Dead-letter target added to a plain quorum queue that names none. */
  queueDeadLetterExchange: (queue: string) => `${queue}.dlx`,
  queueDeadLetterQueue: (queue: string) => `${queue}.dlq`,
} as const;
