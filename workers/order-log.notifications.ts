import { defineStreamWorker } from '../src/index.ts';
import { applyToLedger, type OrderEvent } from './_order-ledger.ts';

/** Stream group `notifications` on order-log: the e-mail each event would send (recorded, not sent). */
export default defineStreamWorker<OrderEvent>({
  stream: 'order-log',
  group: 'notifications',
  batch: { size: 100, maxWaitMs: 100 },
  handleBatch: (records, ctx) =>
    applyToLedger(records, ctx, (event) => ('items' in event ? `email order confirmation to ${event.customerId}` : 'email cancellation notice')),
});
