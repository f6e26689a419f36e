import { defineWorker, NonRetryableError } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/**
 * Reads the whole stream (through the `orders.all` fanout) and flags
 * suspicious orders in the log. An order whose total does not match its
 * lines is refused for good: retrying cannot fix it, so it goes to the DLQ.
 */
const FLAG_TOTAL = 5_000;

export default defineWorker<ConsumerPayloads['fraud-audit']>({
  consumer: 'fraud-audit',
  handle: (event, ctx) => {
    if (!('items' in event)) return; // order.cancelled
    const lines = event.items.reduce((sum, item) => sum + item.quantity * item.price, 0);
    if (Math.abs(lines - event.total) > 0.01) {
      throw new NonRetryableError(`order ${event.orderId}: total ${event.total} does not match its lines (${lines.toFixed(2)})`);
    }
    if (event.total >= FLAG_TOTAL) ctx.logger.warn({ orderId: event.orderId, total: event.total }, 'large order flagged for review');
  },
});
