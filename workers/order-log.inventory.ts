import { defineStreamWorker } from '../src/index.ts';
import { applyToLedger, type OrderEvent } from './_order-ledger.ts';

/** Stream group `inventory` on order-log: reserves stock per line on order.created, releases it on order.cancelled. */
export default defineStreamWorker<OrderEvent>({
  stream: 'order-log',
  group: 'inventory',
  batch: { size: 200, maxWaitMs: 100 },
  handleBatch: (records, ctx) =>
    applyToLedger(records, ctx, (event) =>
      'items' in event ? `reserve ${event.items.map((item) => `${item.quantity}x${item.sku}`).join(', ')}` : 'release reservation',
    ),
});
