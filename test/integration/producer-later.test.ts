import { gzipSync } from 'node:zlib';
import { connect, type ChannelModel, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';
import { get, post } from './producer-fixtures.ts';

/**
 * Jobs for later over HTTP: `X-Delay`, `X-Run-At` and `X-Priority`, through
 * the fast path and through express (a compressed body), answered alike.
 */
const TOKEN = 'later-enqueue-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
jobs:
  reminder.send: { exchange: shop, delays: true, priority: { max: 5 } }
  order.created: { exchange: shop }
consumers:
  reminders:
    source: { exchange: shop, pattern: "reminder.*" }
    queueOptions: { type: classic }
`);

let vhost: TestVhost;
let producer: RunningProducer;
let inspector: ChannelModel;

beforeAll(async () => {
  vhost = await createTestVhost('producer-later');
  await declarePlanAt(vhost.url, plan);
  producer = await startProducer({ plan, amqpUrls: [vhost.url], managementUrl: vhost.managementUrl, port: 0, apiTokens: `${TOKEN}:enqueue` });
  for (let i = 0; i < 100 && (await get(producer.url, '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  inspector = await connect(vhost.url);
});

afterAll(async () => {
  await inspector?.close().catch(() => undefined);
  await producer?.close();
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

const gzipped = (body: unknown) => gzipSync(Buffer.from(JSON.stringify(body)));

describe('jobs for later over HTTP', () => {
  it('X-Delay and X-Run-At hold the job until due, on both paths; X-Priority sets its priority', async () => {
    const runAt = new Date(Date.now() + 1_500).toISOString();
    const answers = [
      await post(producer.url, '/v1/jobs/reminder.send', { via: 'fast' }, { ...AUTH, 'x-delay': '1s', 'x-priority': '4', 'idempotency-key': 'r-fast' }),
      await post(producer.url, '/v1/jobs/reminder.send', gzipped({ via: 'express' }), { ...AUTH, 'content-encoding': 'gzip', 'x-delay': '1000', 'idempotency-key': 'r-express' }),
      await post(producer.url, '/v1/jobs/reminder.send', { via: 'run-at' }, { ...AUTH, 'x-run-at': runAt, 'idempotency-key': 'r-at' }),
      await post(producer.url, '/v1/jobs/reminder.send/batch', [{ via: 'batch' }], { ...AUTH, 'x-delay': '1s', 'idempotency-key': 'r-batch' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(answers[0]?.body).toMatchObject({ id: 'r-fast', jobType: 'reminder.send', runAt: expect.any(String) });
    expect(answers[2]?.body).toMatchObject({ runAt });
    const sentAt = Date.now();
    expect(await takeAll('reminders')).toEqual([]); // none yet
    const arrived: GetMessage[] = [];
    await waitFor('four delayed jobs', async () => {
      arrived.push(...(await takeAll('reminders')));
      return arrived.length >= 4;
    }, 10_000);
    expect(Date.now() - sentAt).toBeGreaterThan(500);
    const byId = new Map(arrived.map((m) => [String(m.properties.messageId), m]));
    expect([...byId.keys()].sort()).toEqual(['r-at', 'r-batch:0', 'r-express', 'r-fast']);
    expect(byId.get('r-fast')?.properties.priority).toBe(4);
    expect(byId.get('r-at')?.properties.headers?.[HEADERS.runAt]).toBe(runAt);
    expect(byId.get('r-express')?.fields.routingKey).toBe('reminder.send');
  });

  it('refuses a bad X-Delay, X-Run-At or X-Priority alike on both paths, naming the header', async () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ 'x-delay': 'soon' }, 'reminder.send', 'X-Delay'],
      [{ 'x-run-at': '2030-01-01 09:00' }, 'reminder.send', 'X-Run-At'],
      [{ 'x-priority': '6' }, 'reminder.send', 'X-Priority'],
      [{ 'x-delay': '5s' }, 'order.created', 'X-Delay'],
      [{ 'x-delay': '5s', 'x-run-at': '2030-01-01T09:00:00Z' }, 'reminder.send', 'X-Delay'],
    ];
    for (const [headers, jobType, header] of cases) {
      const fast = await post(producer.url, `/v1/jobs/${jobType}`, {}, { ...AUTH, ...headers });
      const viaExpress = await post(producer.url, `/v1/jobs/${jobType}`, gzipped({}), { ...AUTH, ...headers, 'content-encoding': 'gzip' });
      expect(fast.status).toBe(400);
      expect(fast.body).toMatchObject({ error: { code: 'INVALID_HEADER', details: { header } } });
      expect(viaExpress.body).toEqual(fast.body);
    }
    expect(await takeAll('reminders')).toEqual([]);
  });

  it('the OpenAPI document lists the headers a job type can use, and only those', async () => {
    const doc = (await get(producer.url, '/openapi.json')).body as { paths: Record<string, { post: { parameters?: Array<{ name: string }> } }> };
    const names = (path: string) => (doc.paths[path]?.post.parameters ?? []).map((p) => p.name).sort();
    expect(names('/v1/jobs/reminder.send')).toEqual(['idempotency-key', 'x-correlation-id', 'x-delay', 'x-priority', 'x-run-at']);
    expect(names('/v1/jobs/order.created')).toEqual(['idempotency-key', 'x-correlation-id']);
  });
});
