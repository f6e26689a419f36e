import { defineWorker } from '../src/worker/index.ts';
import { OrderCreated, pause } from './_orders.ts';

/** Slow (~200 ms a record): creates the pick list. Its backlog stays in its own queue. */
export default defineWorker({
  consumer: 'warehouse',
  schema: OrderCreated,
  timeoutMs: 10_000,
  handle: async (order, ctx) => {
    await pause(200, ctx.signal);
    ctx.logger.debug({ orderId: order.orderId, lines: order.items.length }, 'pick list created');
  },
});
