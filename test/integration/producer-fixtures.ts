import { connect, type Message } from 'amqplib';
import { loadTopology } from '../../src/topology/load.ts';
import { drainChannel } from '../support/queue-drain.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';

/** Shared by the producer's integration, property and disruptive tests. */

export function order(i: number): Record<string, unknown> {
  return {
    orderId: `order-${i}`,
    customerId: `customer-${i % 7}`,
    items: [{ sku: `sku-${i % 5}`, quantity: 1 + (i % 3), price: 9.5 }],
    total: 9.5 * (1 + (i % 3)),
    currency: 'EUR',
    createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  };
}

/** The reference scenario, plus a job whose exchange has no bound queue and one whose exchange does not exist. */
export async function producerTestPlan(): Promise<TopologyPlan> {
  const { plan } = await loadTopology('topology/orders.yaml');
  const anyObject = { type: 'object' };
  return {
    ...plan,
    exchanges: [
      ...plan.exchanges,
      { name: 'orphans', type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} },
    ],
    jobs: [
      ...plan.jobs,
      { type: 'orphan.job', exchange: 'orphans', routingKey: 'orphan.job', payloadSchema: anyObject },
      { type: 'ghost.job', exchange: 'no-such-exchange', routingKey: 'ghost.job', payloadSchema: anyObject },
    ],
  };
}

export interface Posted {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

export async function post(
  base: string,
  path: string,
  /** Sent as is when a string or bytes, else as JSON. */
  body: string | Uint8Array | unknown,
  headers: Record<string, string> = {},
): Promise<Posted> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: parseOrText(text) };
}

export async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Posted> {
  const response = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: parseOrText(text) };
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Messages ready in each queue. */
export async function queueDepths(url: string, queues: readonly string[]): Promise<Record<string, number>> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    const depths: Record<string, number> = {};
    for (const queue of queues) depths[queue] = (await channel.checkQueue(queue)).messageCount;
    return depths;
  } finally {
    await connection.close();
  }
}

/** Takes every message out of a queue (see `drainChannel`). */
export async function drain(url: string, queue: string): Promise<Message[]> {
  const connection = await connect(url);
  try {
    return await drainChannel(await connection.createChannel(), queue);
  } finally {
    await connection.close();
  }
}

/** Runs `task` for 0..count-1 with at most `concurrency` at once. */
export async function inParallel<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  });
  await Promise.all(lanes);
  return results;
}
