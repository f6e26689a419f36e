import { defineStreamWorker } from '../src/index.ts';
import { applyToLedger, type OrderEvent } from './_order-ledger.ts';

/**
 * Stream group `payments` on order-log: authorizes on order.created, voids on
 * order.cancelled. One order's events share a partition, so a void never
 * comes before its authorization.
 */
export default defineStreamWorker<OrderEvent>({
  stream: 'order-log',
  group: 'payments',
  batch: { size: 100, maxWaitMs: 100 },
  handleBatch: (records, ctx) =>
    applyToLedger(records, ctx, (event) => ('items' in event ? `authorize ${event.total.toFixed(2)} ${event.currency}` : `void authorization (${event.reason})`)),
});
