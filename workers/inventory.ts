import { defineWorker } from '../src/worker/index.ts';
import { isCreated, OrderEvent, pause } from './_orders.ts';

/** Fast (~2 ms): reserves stock on order.created, restocks on order.cancelled. In-memory idempotency (the default). */
const stock = new Map<string, number>();

export default defineWorker({
  consumer: 'inventory',
  schema: OrderEvent,
  timeoutMs: 5_000,
  handle: async (event, ctx) => {
    await pause(2, ctx.signal);
    if (isCreated(event)) {
      for (const item of event.items) stock.set(item.sku, (stock.get(item.sku) ?? 0) - item.quantity);
      ctx.logger.debug({ orderId: event.orderId, skus: event.items.length }, 'stock reserved');
    } else {
      ctx.logger.debug({ orderId: event.orderId }, 'order cancelled; stock released');
    }
  },
});
