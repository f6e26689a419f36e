import { defineStreamWorker } from '../src/index.ts';
import { applyToLedger, type OrderEvent } from './_order-ledger.ts';

/** Stream group `fraud-audit` on order-log: checks that an order's lines add up to its total, and records the verdict. */
export default defineStreamWorker<OrderEvent>({
  stream: 'order-log',
  group: 'fraud-audit',
  batch: { size: 200, maxWaitMs: 100 },
  handleBatch: (records, ctx) =>
    applyToLedger(records, ctx, (event) => {
      if (!('items' in event)) return 'cancellation audited';
      const lines = Math.round(event.items.reduce((sum, item) => sum + item.quantity * item.price, 0) * 100) / 100;
      return lines === event.total ? 'total matches lines' : `FLAGGED: lines ${lines} != total ${event.total}`;
    }),
});
