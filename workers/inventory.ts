import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/** Fast (~2 ms): reserves stock on order.created, restocks on order.cancelled. In-memory idempotency (the default). */
const stock = new Map<string, number>();

/**
 * Demo hook (`warren demo`): a line whose SKU starts with `FLAKY-` stands for
 * a stock service that times out once; the first attempt fails with a
 * retryable error and the 1 s retry tier brings the job back to succeed.
 */
const FLAKY_SKU_PREFIX = 'FLAKY-';

export default defineWorker<ConsumerPayloads['inventory']>({
  consumer: 'inventory',
  timeoutMs: 5_000,
  handle: async (event, ctx) => {
    await sleep(2, undefined, { signal: ctx.signal });
    if ('items' in event) {
      if (ctx.attempt === 1 && event.items.some((item) => item.sku.startsWith(FLAKY_SKU_PREFIX))) {
        throw new Error(`order ${event.orderId}: stock service timed out (simulated, first attempt only)`);
      }
      for (const item of event.items) stock.set(item.sku, (stock.get(item.sku) ?? 0) - item.quantity);
      ctx.logger.debug({ orderId: event.orderId, skus: event.items.length }, 'stock reserved');
    } else {
      ctx.logger.debug({ orderId: event.orderId }, 'order cancelled; stock released');
    }
  },
});
