import { connect, type ChannelModel, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createJobClient,
  InvalidJobOptionError,
  InvalidJobPayloadError,
  JobClientClosedError,
  PrecedingJobFailedError,
  UnknownJobTypeError,
  type JobClient,
} from '../../src/client/index.ts';
import { BrokerUnavailableError, UnroutableError } from '../../src/errors.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf } from '../fixtures/workers/_support.ts';

const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
jobs:
  order.created:
    exchange: shop
    routingKey: order.created
    orderingKey: orderId
    schema:
      type: object
      additionalProperties: false
      required: [orderId, total]
      properties:
        orderId: { type: string, minLength: 1 }
        total: { type: number, minimum: 0 }
  nobody.listens:
    exchange: shop
    routingKey: nobody.listens
consumers:
  orders:
    source: { exchange: shop, pattern: "order.*" }
`);

type Jobs = { 'order.created': { orderId: string; total: number }; 'nobody.listens': Record<string, unknown> };

let vhost: TestVhost;
let client: JobClient<Jobs>;
let inspector: ChannelModel;

beforeAll(async () => {
  vhost = await createTestVhost('job-client');
  await declarePlanAt(vhost.url, plan);
  client = await createJobClient<Jobs>({ topology: plan, amqpUrls: [vhost.url] });
  inspector = await connect(vhost.url);
});

afterAll(async () => {
  await client?.close();
  await inspector?.close().catch(() => undefined);
  await vhost?.cleanup();
});

async function takeAll(queue: string): Promise<GetMessage[]> {
  const channel = await inspector.createChannel();
  const messages: GetMessage[] = [];
  try {
    for (let m = await channel.get(queue, { noAck: true }); m !== false; m = await channel.get(queue, { noAck: true })) messages.push(m);
  } finally {
    await channel.close();
  }
  return messages;
}

describe('job client on a real broker', () => {
  it('enqueue resolves with the id once confirmed; the message follows the conventions', async () => {
    const job = await client.enqueue('order.created', { orderId: 'o-1', total: 12.5 }, {
      idempotencyKey: 'order-o-1',
      correlationId: 'req-7',
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    expect(job).toEqual({ id: 'order-o-1', jobType: 'order.created', routingKey: 'order.created' });
    const [message, ...rest] = await takeAll('orders');
    expect(rest).toHaveLength(0);
    expect(JSON.parse(message!.content.toString())).toEqual({ orderId: 'o-1', total: 12.5 });
    expect(message!.properties).toMatchObject({
      messageId: 'order-o-1',
      type: 'order.created',
      correlationId: 'req-7',
      contentType: 'application/json',
      deliveryMode: 2,
    });
    expect(message!.properties.headers).toMatchObject({
      [HEADERS.attempt]: 1,
      [HEADERS.orderingKey]: 'o-1',
      [HEADERS.originExchange]: 'shop',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
  });

  it('refuses, sending nothing: unknown job type, bad payload, bad options, reserved headers', async () => {
    const untyped = client as unknown as JobClient;
    await expect(untyped.enqueue('order.nope', {})).rejects.toBeInstanceOf(UnknownJobTypeError);
    const invalid = await client.enqueue('order.created', { orderId: '', total: -1 }).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(InvalidJobPayloadError);
    expect((invalid as InvalidJobPayloadError).issues.map((issue) => issue.path)).toEqual([['orderId'], ['total']]);
    await expect(client.enqueue('order.created', { orderId: 'a', total: 1 }, { idempotencyKey: 'has space' })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'idempotencyKey',
    });
    await expect(client.enqueue('order.created', { orderId: 'a', total: 1 }, { headers: { 'x-warren-attempt': 5 } })).rejects.toBeInstanceOf(
      InvalidJobOptionError,
    );
    expect(await takeAll('orders')).toHaveLength(0);
  });

  it('a job no queue is bound for is refused as unroutable, never silently dropped', async () => {
    await expect(client.enqueue('nobody.listens', { anything: true })).rejects.toBeInstanceOf(UnroutableError);
  });

  it('enqueueMany pipelines, keeps each ordering key in order and stops a key after its failure', async () => {
    // 300 orders × created-twice, all pipelined; item 1 is invalid, so its key's later item is held back.
    const payloads = Array.from({ length: 600 }, (_, i) => ({ orderId: `k${i % 300}`, total: i }));
    payloads[1] = { orderId: 'k1', total: -5 };
    const result = await client.enqueueMany('order.created', payloads, { idempotencyKey: 'batch-1' });
    expect(result.accepted).toBe(598);
    expect(result.results[1]).toMatchObject({ ok: false, id: 'batch-1:1' });
    expect((result.results[1] as { error: Error }).error).toBeInstanceOf(InvalidJobPayloadError);
    expect((result.results[301] as { error: Error }).error).toBeInstanceOf(PrecedingJobFailedError);
    const messages = await takeAll('orders');
    expect(messages).toHaveLength(598);
    const seen = new Map<string, number[]>();
    for (const m of messages) {
      const { orderId, total } = JSON.parse(m.content.toString()) as { orderId: string; total: number };
      seen.set(orderId, [...(seen.get(orderId) ?? []), total]);
    }
    for (const totals of seen.values()) expect(totals).toEqual([...totals].sort((a, b) => a - b));
    expect(new Set(messages.map((m) => m.properties.messageId)).size).toBe(598);
  });

  it('backpressure is a typed, retryable error: a tiny in-flight limit refuses some, retries land each job once', async () => {
    const narrow = await createJobClient<Jobs>({ topology: plan, amqpUrls: [vhost.url], publisher: { maxInFlight: 2, channels: 1 } });
    try {
      const send = (n: number) => narrow.enqueue('order.created', { orderId: `bp-${n}`, total: n }, { idempotencyKey: `bp-${n}` });
      const first = await Promise.allSettled(Array.from({ length: 40 }, (_, n) => send(n)));
      const refused = first.flatMap((outcome, n) => (outcome.status === 'rejected' ? [{ n, error: outcome.reason as unknown }] : []));
      expect(refused.length).toBeGreaterThan(0);
      for (const { error } of refused) expect(error).toBeInstanceOf(BrokerUnavailableError);
      for (const { n } of refused) await send(n);
    } finally {
      await narrow.close();
    }
    const ids = (await takeAll('orders')).map((m) => m.properties.messageId as string);
    expect(ids.sort()).toEqual(Array.from({ length: 40 }, (_, n) => `bp-${n}`).sort());
  });

  it('close() waits for jobs awaiting their confirm, then refuses new ones', async () => {
    const closing = await createJobClient<Jobs>({ topology: plan, amqpUrls: [vhost.url] });
    const pending = Array.from({ length: 200 }, (_, n) => closing.enqueue('order.created', { orderId: `c-${n}`, total: n }));
    const closed = closing.close();
    const outcomes = await Promise.allSettled(pending);
    await closed;
    expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    await expect(closing.enqueue('order.created', { orderId: 'late', total: 0 })).rejects.toBeInstanceOf(JobClientClosedError);
    expect(await takeAll('orders')).toHaveLength(200);
  });

  it('applies the vhost rule: a topology naming a vhost is published there whatever AMQP_URL says', async () => {
    const named = { ...plan, vhost: vhost.vhost };
    const rootUrl = new URL(vhost.url);
    rootUrl.pathname = '/';
    const viaRoot = await createJobClient<Jobs>({ topology: named, amqpUrls: [rootUrl.toString()] });
    try {
      await viaRoot.enqueue('order.created', { orderId: 'vh', total: 1 }, { idempotencyKey: 'vh-1' });
    } finally {
      await viaRoot.close();
    }
    expect((await takeAll('orders')).map((m) => m.properties.messageId)).toEqual(['vh-1']);
  });

  it('an unreachable broker fails creation with BrokerUnavailableError', async () => {
    await expect(createJobClient({ topology: plan, amqpUrls: ['amqp://guest:guest@127.0.0.1:1'], connectTimeoutMs: 1_000 })).rejects.toBeInstanceOf(
      BrokerUnavailableError,
    );
  });
});
