import type { TopologyPlan } from '../src/topology/plan.ts';

export const BENCH_EXCHANGE = 'bench';
export const BENCH_ROUTING_KEY = 'bench.job';
export const BENCH_QUEUE = 'bench.q';

/** One job type routed to one classic queue: what the HTTP benchmark enqueues. */
export function benchPlan(): TopologyPlan {
  return {
    exchanges: [{ name: BENCH_EXCHANGE, type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} }],
    queues: [{ name: BENCH_QUEUE, type: 'classic', durable: true, autoDelete: false, arguments: {} }],
    bindings: [{ source: BENCH_EXCHANGE, destination: BENCH_QUEUE, destinationType: 'queue', routingKey: BENCH_ROUTING_KEY, arguments: {} }],
    jobs: [
      {
        type: 'bench.job',
        exchange: BENCH_EXCHANGE,
        routingKey: BENCH_ROUTING_KEY,
        orderingKey: 'orderId',
        payloadSchema: {
          type: 'object',
          required: ['orderId', 'customerId', 'total', 'note'],
          properties: {
            orderId: { type: 'string', minLength: 1 },
            customerId: { type: 'string' },
            total: { type: 'number', minimum: 0 },
            note: { type: 'string', maxLength: 1000 },
          },
        },
      },
    ],
    consumers: [],
  };
}

/** A payload of about 512 bytes once serialized. */
export function benchPayload(i: number): Record<string, unknown> {
  return { orderId: `order-${i}`, customerId: `customer-${i % 100}`, total: 12.5, note: 'x'.repeat(430) };
}
