import { defineStreamWorker } from '../src/index.ts';
import { applyToLedger, type OrderEvent } from './_order-ledger.ts';

/**
 * Stream group `analytics` on order-log: revenue per currency, booked on
 * order.created. The group the demo replays: a reset re-applies its effects
 * from the chosen point (a real analytics job would rebuild its aggregates).
 */
export default defineStreamWorker<OrderEvent>({
  stream: 'order-log',
  group: 'analytics',
  batch: { size: 500, maxWaitMs: 200 },
  handleBatch: (records, ctx) =>
    applyToLedger(records, ctx, (event) => ('items' in event ? `revenue +${event.total.toFixed(2)} ${event.currency}` : 'cancellation counted')),
});
