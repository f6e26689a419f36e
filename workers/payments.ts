import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/**
 * The ordered consumer (4 shards, per-order ordering key): authorizes on
 * order.created and voids on order.cancelled, which must never be seen
 * first. A failure retries in place (500 ms, 2 s) while later events of the
 * same order wait; after 3 attempts the event goes to payments.dlq.
 */
const authorized = new Set<string>();

export default defineWorker<ConsumerPayloads['payments']>({
  consumer: 'payments',
  timeoutMs: 5_000,
  handle: async (event, ctx) => {
    await sleep(10, undefined, { signal: ctx.signal });
    if ('items' in event) {
      authorized.add(event.orderId);
      ctx.logger.debug({ orderId: event.orderId, total: event.total }, 'payment authorized');
    } else if (authorized.delete(event.orderId)) {
      ctx.logger.debug({ orderId: event.orderId }, 'authorization voided');
    }
  },
});
