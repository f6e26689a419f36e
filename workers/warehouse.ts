import { defineWorker } from '../src/worker/index.ts';
import { OrderCreated, pause } from './_orders.ts';

/**
 * Slow sink (~200 ms a write): creates pick lists in batches, one write per
 * batch instead of one per record. The batch size follows the consumer's
 * prefetch in topology/orders.yaml (20): a bigger batch needs a bigger prefetch.
 */
export default defineWorker({
  consumer: 'warehouse',
  schema: OrderCreated,
  timeoutMs: 10_000,
  batch: { size: 20, maxWaitMs: 200 },
  handleBatch: async (orders, ctx) => {
    await pause(200, ctx.signal);
    ctx.logger.debug({ orders: orders.length, lines: orders.reduce((sum, order) => sum + order.payload.items.length, 0) }, 'pick lists created');
  },
});
