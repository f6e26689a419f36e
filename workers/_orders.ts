import { z } from 'zod';

/** Payload schemas of the reference scenario (topology/orders.yaml). Not a worker: the name starts with `_`. */
export const OrderCreated = z.object({
  orderId: z.string().min(1).max(64),
  customerId: z.string().min(1).max(64),
  items: z.array(z.object({ sku: z.string().min(1), quantity: z.number().int().min(1), price: z.number().min(0) })).min(1).max(100),
  total: z.number().min(0),
  currency: z.enum(['EUR', 'USD', 'GBP']),
  createdAt: z.string(),
});
export type OrderCreated = z.infer<typeof OrderCreated>;

export const OrderCancelled = z.object({ orderId: z.string().min(1).max(64), reason: z.string().max(500) });
export type OrderCancelled = z.infer<typeof OrderCancelled>;

/** Either event; `strict` keeps a cancelled event from parsing as a partial created one. */
export const OrderEvent = z.union([OrderCreated.strict(), OrderCancelled.strict()]);
export type OrderEvent = z.infer<typeof OrderEvent>;

export function isCreated(event: OrderEvent): event is OrderCreated {
  return 'items' in event;
}

export const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
