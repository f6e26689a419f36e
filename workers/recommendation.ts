import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/** Updates "bought together" counts (~5 ms). Losing a count is harmless, so the memory store is enough. */
const together = new Map<string, number>();

export default defineWorker<ConsumerPayloads['recommendation']>({
  consumer: 'recommendation',
  handle: async (order, ctx) => {
    await sleep(5, undefined, { signal: ctx.signal });
    const skus = [...new Set(order.items.map((i) => i.sku))].sort();
    for (let i = 0; i < skus.length; i++) {
      for (let j = i + 1; j < skus.length; j++) {
        const pair = `${skus[i]}+${skus[j]}`;
        together.set(pair, (together.get(pair) ?? 0) + 1);
      }
    }
  },
});
