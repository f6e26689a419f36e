import { defineWorker } from '../src/worker/index.ts';
import { isCreated, OrderEvent, pause } from './_orders.ts';

/**
 * The ordered consumer (4 shards, per-order ordering key): authorizes on
 * order.created and voids on order.cancelled, which must never be seen
 * first. A failure retries in place (500 ms, 2 s) while later events of the
 * same order wait; after 3 attempts the event goes to payments.dlq.
 */
const authorized = new Set<string>();

export default defineWorker({
  consumer: 'payments',
  schema: OrderEvent,
  timeoutMs: 5_000,
  handle: async (event, ctx) => {
    await pause(10, ctx.signal);
    if (isCreated(event)) {
      authorized.add(event.orderId);
      ctx.logger.debug({ orderId: event.orderId, total: event.total }, 'payment authorized');
    } else if (authorized.delete(event.orderId)) {
      ctx.logger.debug({ orderId: event.orderId }, 'authorization voided');
    }
  },
});
