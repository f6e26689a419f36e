import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/** Slow (~200 ms a record): creates the pick list. Its backlog stays in its own queue. */
export default defineWorker<ConsumerPayloads['warehouse']>({
  consumer: 'warehouse',
  timeoutMs: 10_000,
  handle: async (order, ctx) => {
    await sleep(200, undefined, { signal: ctx.signal });
    ctx.logger.debug({ orderId: order.orderId, lines: order.items.length }, 'pick list created');
  },
});
