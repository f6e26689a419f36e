import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/message/headers.ts';
import { PAGE_LIMITS } from '../../src/producer/app.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { drain, inParallel, order, post, producerTestPlan, queueDepths } from './producer-fixtures.ts';
import { pino } from 'pino';

const FANOUT_QUEUES = ['inventory', 'loyalty', 'recommendation', 'warehouse', 'fraud-audit'];
const SHARDS = ['payments.shard.0', 'payments.shard.1', 'payments.shard.2', 'payments.shard.3'];

let vhost: TestVhost;
let plan: TopologyPlan;
let producer: RunningProducer;

beforeAll(async () => {
  vhost = await createTestVhost('warren-producer-enqueue');
  plan = await producerTestPlan();
  await declarePlanAt(vhost.url, plan);
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: undefined,
    insecure: true,
    logger: pino({ level: 'silent' }),
  });
  await waitReady(producer.url);
});

afterAll(async () => {
  await producer?.close();
  await vhost?.cleanup();
});

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${url}/readyz`)).status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('producer never became ready');
}

describe('POST /v1/jobs/{jobType}', () => {
  it('answers 500 × 202 for 500 jobs and puts exactly those 500 messages, with the conventions, in every target queue', async () => {
    const responses = await inParallel(500, 25, (i) =>
      post(producer.url, '/v1/jobs/order.created', order(i), i % 10 === 0 ? { 'idempotency-key': `key-${i}` } : {}),
    );
    expect(responses.map((r) => r.status)).toEqual(new Array(500).fill(202));
    const ids = responses.map((r) => (r.body as { id: string }).id);
    expect(new Set(ids).size).toBe(500);
    expect(ids[10]).toBe('key-10');
    expect(responses[0]?.body).toEqual({ id: 'key-0', jobType: 'order.created', routingKey: 'order.created' });

    const depths = await queueDepths(vhost.url, [...FANOUT_QUEUES, ...SHARDS]);
    for (const queue of FANOUT_QUEUES) expect(depths[queue], queue).toBe(500);
    expect(SHARDS.reduce((sum, shard) => sum + (depths[shard] ?? 0), 0)).toBe(500);

    const messages = await drain(vhost.url, 'inventory');
    expect(messages.map((m) => m.properties.messageId).sort()).toEqual([...ids].sort());
    for (const message of messages) {
      const payload = JSON.parse(message.content.toString()) as { orderId: string };
      expect(message.properties.deliveryMode).toBe(2);
      expect(message.properties.contentType).toBe('application/json');
      expect(message.properties.type).toBe('order.created');
      expect(typeof message.properties.timestamp).toBe('number');
      expect(message.properties.headers?.[HEADERS.orderingKey]).toBe(payload.orderId);
      expect(message.properties.headers?.[HEADERS.attempt]).toBe(1);
      expect(message.properties.headers?.[HEADERS.originExchange]).toBe('orders');
      expect(message.properties.headers?.[HEADERS.originRoutingKey]).toBe('order.created');
      expect(message.fields.routingKey).toBe('order.created');
    }
  });

  it('sends every job of one ordering key to the same payments shard', async () => {
    for (const shard of SHARDS) await drain(vhost.url, shard);
    await inParallel(40, 10, (i) => post(producer.url, '/v1/jobs/order.cancelled', { orderId: `order-${i % 4}`, reason: 'r' }));
    const shardOfKey = new Map<string, string>();
    for (const shard of SHARDS) {
      for (const message of await drain(vhost.url, shard)) {
        const key = String(message.properties.headers?.[HEADERS.orderingKey]);
        expect(shardOfKey.get(key) ?? shard).toBe(shard);
        shardOfKey.set(key, shard);
      }
    }
    expect(shardOfKey.size).toBe(4);
  });

  it('passes X-Correlation-Id on as the correlation id', async () => {
    await drain(vhost.url, 'inventory');
    const response = await post(producer.url, '/v1/jobs/order.cancelled', { orderId: 'c-1', reason: 'r' }, { 'x-correlation-id': 'corr-7' });
    expect(response.status).toBe(202);
    const [message] = await drain(vhost.url, 'inventory');
    expect(message?.properties.correlationId).toBe('corr-7');
  });

  it('answers 502 UNROUTABLE, never 202, when no queue is bound to the exchange', async () => {
    const response = await post(producer.url, '/v1/jobs/orphan.job', { any: 1 });
    expect(response.status).toBe(502);
    expect(response.body).toMatchObject({ error: { code: 'UNROUTABLE' } });
  });

  it('answers 502 for a missing exchange, and the channels it broke recover for later jobs', async () => {
    for (let round = 0; round < 3; round++) {
      const response = await post(producer.url, '/v1/jobs/ghost.job', { any: 1 });
      expect(response.status).toBe(502);
      expect((response.body as { error: { message: string } }).error.message).toContain('does not exist');
    }
    await drain(vhost.url, 'inventory');
    // Spread over every pooled channel: a channel left dead would time out into 503s.
    const responses = await inParallel(20, 5, (i) => post(producer.url, '/v1/jobs/order.created', order(i)));
    expect(responses.map((r) => r.status)).toEqual(new Array(20).fill(202));
    expect((await queueDepths(vhost.url, ['inventory'])).inventory).toBe(20);
  });
});

describe('POST /v1/jobs/{jobType}/batch', () => {
  it('publishes the valid items, not the invalid ones, and reports each', async () => {
    await drain(vhost.url, 'inventory');
    const items = Array.from({ length: 100 }, (_, i) => (i % 10 === 3 ? { orderId: '' } : order(i)));
    const response = await post(producer.url, '/v1/jobs/order.created/batch', items, { 'idempotency-key': 'batch-1' });
    expect(response.status).toBe(207);
    const body = response.body as { accepted: number; results: Array<{ index: number; status: number; id?: string; error?: { code: string } }> };
    expect(body.accepted).toBe(90);
    expect(body.results[3]).toMatchObject({ index: 3, status: 400, error: { code: 'INVALID_PAYLOAD' } });
    expect(body.results[4]).toEqual({ index: 4, status: 202, id: 'batch-1:4' });
    const messages = await drain(vhost.url, 'inventory');
    expect(messages.map((m) => m.properties.messageId).sort()).toEqual(
      body.results.filter((r) => r.status === 202).map((r) => r.id).sort(),
    );
  });

  it('answers 202 when every item was confirmed', async () => {
    const response = await post(producer.url, '/v1/jobs/order.cancelled/batch', [{ orderId: 'a', reason: 'x' }, { orderId: 'b', reason: 'y' }]);
    expect(response.status).toBe(202);
    expect((response.body as { accepted: number }).accepted).toBe(2);
  });
});

describe('read routes', () => {
  it('GET /v1/jobs lists job types with their JSON Schemas', async () => {
    const body = (await (await fetch(`${producer.url}/v1/jobs`)).json()) as { jobs: Array<Record<string, unknown>> };
    const created = body.jobs.find((job) => job.type === 'order.created');
    expect(created).toMatchObject({ exchange: 'orders', routingKey: 'order.created', orderingKey: 'orderId' });
    expect((created?.schema as { required: string[] }).required).toContain('orderId');
  });

  it('GET /v1/queues shows depth and consumers per topology queue', async () => {
    await drain(vhost.url, 'warehouse');
    await post(producer.url, '/v1/jobs/order.created', order(1));
    // The management API refreshes queue figures every few seconds: poll.
    let warehouse: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && warehouse?.messagesReady !== 1; i++) {
      const body = (await (await fetch(`${producer.url}/v1/queues`)).json()) as { queues: Array<Record<string, unknown>> };
      expect(body.queues.map((q) => q.name)).toEqual(plan.queues.map((q) => q.name));
      warehouse = body.queues.find((q) => q.name === 'warehouse');
      if (warehouse?.messagesReady !== 1) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(warehouse).toMatchObject({ exists: true, messagesReady: 1, consumers: 0 });
  });

  it('GET /v1/queues and /v1/jobs are paginated with a hard maximum page size', async () => {
    const names: string[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const page = (await (await fetch(`${producer.url}/v1/queues?limit=4&offset=${offset}`)).json()) as { queues: Array<{ name: string }>; total: number; limit: number; nextOffset?: number };
      expect(page.queues.length).toBeLessThanOrEqual(4);
      expect(page.total).toBe(plan.queues.length);
      names.push(...page.queues.map((q) => q.name));
      offset = page.nextOffset;
    }
    expect(names).toEqual(plan.queues.map((q) => q.name));
    const whole = (await (await fetch(`${producer.url}/v1/queues`)).json()) as { limit: number; nextOffset?: number };
    expect(whole).toMatchObject({ limit: PAGE_LIMITS.queues.max });
    expect(whole.nextOffset).toBeUndefined();
    for (const query of [`limit=${PAGE_LIMITS.queues.max + 1}`, 'limit=0', 'offset=-1', 'limit=abc', 'page=2']) {
      const response = await fetch(`${producer.url}/v1/queues?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code, query).toBe('INVALID_QUERY');
    }
    const jobs = (await (await fetch(`${producer.url}/v1/jobs?limit=1&offset=1`)).json()) as { jobs: Array<{ type: string }>; total: number; nextOffset?: number };
    expect(jobs.jobs.map((j) => j.type)).toEqual([plan.jobs[1]?.type]);
    expect(jobs).toMatchObject({ total: plan.jobs.length, offset: 1, limit: 1, nextOffset: 2 });
    expect((await fetch(`${producer.url}/v1/jobs?limit=${PAGE_LIMITS.jobs.max + 1}`)).status).toBe(400);
  });

  it('GET /healthz and /readyz say alive and ready', async () => {
    expect((await fetch(`${producer.url}/healthz`)).status).toBe(200);
    // This test server runs without tokens, by explicit choice, and says so.
    expect(await (await fetch(`${producer.url}/readyz`)).json()).toEqual({ ready: true, connected: true, blocked: null, insecure: true });
  });

  it('GET /metrics counts requests by route and status and has the publish histogram and broker gauges', async () => {
    const text = await (await fetch(`${producer.url}/metrics`)).text();
    expect(text).toMatch(/warren_http_requests_total\{route="\/v1\/jobs\/:jobType",method="POST",status="202"\} \d+/);
    expect(text).toMatch(/warren_publish_seconds_count\{outcome="confirmed"\} \d+/);
    expect(text).toContain('warren_publishes_in_flight 0');
    expect(text).toContain('warren_broker_connected 1');
    expect(text).toContain('warren_broker_blocked 0');
  });
});
