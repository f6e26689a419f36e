/**
 * What the chaos client posts: valid orders, 1 in 10 later cancelled, and
 * 1% bad ones — half malformed (the producer must answer 400), half poison
 * (valid, but every worker refuses them for good, so they end in the DLQs).
 */
export type OrderKind = 'valid' | 'poison' | 'malformed';

export interface PlannedJob {
  /** The Idempotency-Key, which becomes the job id. */
  key: string;
  orderId: string;
  jobType: 'order.created' | 'order.cancelled';
  kind: OrderKind;
  body: string;
}

export function orderKind(index: number): OrderKind {
  if (index % 200 === 57) return 'malformed';
  if (index % 200 === 157) return 'poison';
  return 'valid';
}

export function createdJob(run: string, index: number): PlannedJob {
  const kind = orderKind(index);
  const orderId = `o-${index}`;
  const price = 10 + (index % 7);
  const order = {
    orderId,
    customerId: kind === 'poison' ? `poison-${index}` : `c-${index % 500}`,
    items: [{ sku: `sku-${index % 50}`, quantity: 1 + (index % 3), price }],
    total: price * (1 + (index % 3)),
    currency: 'EUR',
    createdAt: new Date().toISOString(),
  };
  const body = kind === 'malformed' ? (index % 400 === 57 ? '{"orderId": "broken' : JSON.stringify({ ...order, items: [] })) : JSON.stringify(order);
  return { key: `${run}-created-${index}`, orderId, jobType: 'order.created', kind, body };
}

/** Cancelled is posted only after its order.created got 202, so it is behind it in the shard. */
export function wantsCancel(index: number): boolean {
  return index % 10 === 3 && orderKind(index) === 'valid';
}

export function cancelledJob(run: string, index: number): PlannedJob {
  const orderId = `o-${index}`;
  return { key: `${run}-cancelled-${index}`, orderId, jobType: 'order.cancelled', kind: 'valid', body: JSON.stringify({ orderId, reason: 'customer changed their mind' }) };
}
