import { defineWorker } from '../src/worker/index.ts';
import { OrderCreated, pause } from './_orders.ts';

/** Updates "bought together" counts (~5 ms). Losing a count is harmless, so the memory store is enough. */
const together = new Map<string, number>();

export default defineWorker({
  consumer: 'recommendation',
  schema: OrderCreated,
  handle: async (order, ctx) => {
    await pause(5, ctx.signal);
    const skus = [...new Set(order.items.map((i) => i.sku))].sort();
    for (let i = 0; i < skus.length; i++) {
      for (let j = i + 1; j < skus.length; j++) {
        const pair = `${skus[i]}+${skus[j]}`;
        together.set(pair, (together.get(pair) ?? 0) + 1);
      }
    }
  },
});
