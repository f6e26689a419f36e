import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/**
 * Slow sink (~200 ms a write): creates pick lists in batches, one write per
 * batch instead of one per record. The batch size follows the consumer's
 * prefetch in topology/orders.yaml (20): a bigger batch needs a bigger prefetch.
 */
export default defineWorker<ConsumerPayloads['warehouse']>({
  consumer: 'warehouse',
  timeoutMs: 10_000,
  batch: { size: 20, maxWaitMs: 200 },
  handleBatch: async (orders, ctx) => {
    await sleep(200, undefined, { signal: ctx.signal });
    ctx.logger.debug({ orders: orders.length, lines: orders.reduce((sum, order) => sum + order.payload.items.length, 0) }, 'pick lists created');
  },
});
