import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { get, post } from './producer-fixtures.ts';

/**
 * The producer's /metrics reports consumer lag from the management API of
 * a real broker: a classic consumer (head timestamp reported) and a quorum
 * one (not reported on 3.10), with no worker running, so jobs wait.
 */
const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
jobs:
  order.created: { exchange: shop, routingKey: order.created }
consumers:
  billing:
    source: { exchange: shop, pattern: order.created }
    queueOptions: { type: classic }
  audit:
    source: { exchange: shop, pattern: order.created }
`);

let vhost: TestVhost;
let producer: RunningProducer;

beforeAll(async () => {
  vhost = await createTestVhost('warren-lag-metrics');
  await declarePlanAt(vhost.url, plan);
  producer = await startProducer({ plan, amqpUrls: [vhost.url], managementUrl: vhost.managementUrl, port: 0, apiTokens: undefined, insecure: true, logger: pino({ level: 'silent' }) });
  await waitFor('the producer ready', async () => (await get(producer.url, '/readyz')).status === 200);
});

afterAll(async () => {
  await producer?.close();
  await vhost?.cleanup();
});

describe('consumer lag on the producer /metrics', () => {
  it('shows ready + unacked per consumer and the oldest message age where the broker reports it', async () => {
    for (let i = 0; i < 3; i++) expect((await post(producer.url, '/v1/jobs/order.created', { n: i })).status).toBe(202);
    let text = '';
    // The broker refreshes queue statistics every ~5 s; the poll at most every 5 s.
    await waitFor('lag of 3 for both consumers', async () => {
      text = (await get(producer.url, '/metrics')).text;
      return text.includes('warren_consumer_lag_messages{consumer="billing"} 3') && text.includes('warren_consumer_lag_messages{consumer="audit"} 3');
    }, 60_000, 1_000);
    expect(text).toContain('warren_lag_poll_up 1');
    expect(text).toMatch(/warren_consumer_oldest_message_age_seconds\{consumer="billing"\} \d/);
    expect(text).not.toContain('warren_consumer_oldest_message_age_seconds{consumer="audit"}');
    expect(text).toContain('warren_queue_messages_ready{consumer="billing",queue="billing",kind="work"} 3');
    expect(text).toContain('warren_queue_messages_ready{consumer="audit",queue="audit.dlq",kind="dead-letter"} 0');
  });
});
