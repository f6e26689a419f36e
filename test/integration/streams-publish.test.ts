import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, InvalidJobPayloadError, type JobClient } from '../../src/client/index.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { UnknownEventTypeError } from '../../src/streams/errors.ts';
import { partitionOf } from '../../src/streams/partition-hash.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { readStream } from '../support/streams.ts';
import { planOf } from '../fixtures/workers/_support.ts';
import { get, post } from './producer-fixtures.ts';

const plan = planOf(readFileSync('test/fixtures/topology/streams.yaml', 'utf8'));
const ENQUEUE = { authorization: 'Bearer enq-token' };

let vhost: TestVhost;
let client: JobClient;
let producer: RunningProducer;

beforeAll(async () => {
  vhost = await createTestVhost('streams-publish');
  await declarePlanAt(vhost.url, plan);
  client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
  // Without DATABASE_URL the streams view shows partitions only (groups live in PostgreSQL; this file makes none).
  const databaseUrl = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: 'enq-token:enqueue,adm-token:admin',
    logger: pino({ level: 'silent' }),
  }).finally(() => {
    if (databaseUrl !== undefined) process.env.DATABASE_URL = databaseUrl;
  });
  for (let i = 0; i < 100 && (await get(producer.url, '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await client?.close();
  await producer?.close();
  await vhost?.cleanup();
});

describe('publishing events', () => {
  it('the job client and POST /v1/events/{type} put each event in partition stableHash(key) mod N, confirmed', async () => {
    const sent: Array<{ key: string; partition: number }> = [];
    for (let i = 0; i < 40; i += 1) {
      const published = await client.publishEvent('order.placed', { orderId: `o-${i}`, amount: i });
      expect(published.partition).toBe(partitionOf(`o-${i}`, 4));
      expect(published).toMatchObject({ eventType: 'order.placed', stream: 'order-events', key: `o-${i}` });
      sent.push({ key: `o-${i}`, partition: published.partition });
    }
    for (let i = 40; i < 50; i += 1) {
      const response = await post(producer.url, '/v1/events/order.placed', { orderId: `o-${i}`, amount: i }, { ...ENQUEUE, 'idempotency-key': `evt-${i}` });
      expect(response.status).toBe(202);
      expect(response.body).toMatchObject({ id: `evt-${i}`, stream: 'order-events', partition: partitionOf(`o-${i}`, 4), key: `o-${i}` });
      sent.push({ key: `o-${i}`, partition: partitionOf(`o-${i}`, 4) });
    }
    for (let partition = 0; partition < 4; partition += 1) {
      const expected = sent.filter((s) => s.partition === partition).map((s) => s.key);
      const records = await readStream(vhost.url, `order-events.p${partition}`, expected.length);
      expect(records.map((r) => r.properties.headers?.[HEADERS.orderingKey])).toEqual(expected);
      expect(records.map((r) => r.properties.type)).toEqual(expected.map(() => 'order.placed'));
      // Offsets grow along the partition (they are not dense: the broker's chunks take some).
      for (let i = 1; i < records.length; i += 1) expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
    }
  });

  it('refuses an unknown event type and a payload without its key, publishing nothing', async () => {
    await expect(client.publishEvent('order.shipped', { orderId: 'x' })).rejects.toBeInstanceOf(UnknownEventTypeError);
    await expect(client.publishEvent('order.placed', { amount: 1 })).rejects.toBeInstanceOf(InvalidJobPayloadError);
    await expect(client.publishEvent('order.paid', {})).rejects.toBeInstanceOf(InvalidJobPayloadError);
    const unknown = await post(producer.url, '/v1/events/order.shipped', { orderId: 'x' }, ENQUEUE);
    expect(unknown.status).toBe(404);
    expect((unknown.body as { error: { code: string } }).error.code).toBe('UNKNOWN_EVENT_TYPE');
    const keyless = await post(producer.url, '/v1/events/order.paid', { amount: 1 }, ENQUEUE);
    expect(keyless.status).toBe(400);
    const anonymous = await post(producer.url, '/v1/events/order.paid', { orderId: 'x' });
    expect(anonymous.status).toBe(401);
  });

  it('GET /v1/streams shows each partition\'s end offset (admin only)', async () => {
    expect((await get(producer.url, '/v1/streams', ENQUEUE)).status).toBe(403);
    const response = await get(producer.url, '/v1/streams', { authorization: 'Bearer adm-token' });
    expect(response.status).toBe(200);
    const body = response.body as { streams: Array<{ stream: string; partitions: number; ends: Array<number | null>; groups: unknown }> };
    expect(body.streams).toHaveLength(1);
    expect(body.streams[0]).toMatchObject({ stream: 'order-events', partitions: 4, groups: null });
    // The first test put 50 events in: every partition that got one has an end offset.
    expect(body.streams[0]?.ends.filter((end) => end !== null).length).toBeGreaterThan(0);
  });

  it('documents one path per event type in the OpenAPI document', async () => {
    const document = (await get(producer.url, '/openapi.json')).body as { paths: Record<string, { post?: { responses: Record<string, unknown> } }> };
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/events/order.placed', '/v1/events/order.paid', '/v1/streams']));
    expect(Object.keys(document.paths['/v1/events/order.placed']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['202', '400', '404']));
  });
});
