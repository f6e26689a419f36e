import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ErrorResponse } from '../../src/producer/api-schemas.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { get, order, post, producerTestPlan, queueDepths } from './producer-fixtures.ts';

// Bad input, at scale (issue 7, and issue 11 for the DLQ routes, deep JSON
// and invalid UTF-8): random and mutated bodies, content types and headers
// never get a 5xx, never crash the server, and a rejected request publishes
// nothing — the queue holds exactly one message per 202.

let vhost: TestVhost;
let producer: RunningProducer;

beforeAll(async () => {
  vhost = await createTestVhost('warren-producer-fuzz');
  const plan = await producerTestPlan();
  await declarePlanAt(vhost.url, plan);
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: undefined,
    insecure: true,
    bodyLimit: '16kb',
    maxBatchItems: 20,
    logger: pino({ level: 'silent' }),
  });
  for (let i = 0; i < 100 && (await get(producer.url, '/readyz')).status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  await producer?.close();
  await vhost?.cleanup();
});

/** A valid order with one field dropped, retyped or replaced by a random JSON value. */
const mutatedOrder = fc
  .tuple(fc.nat(1000), fc.constantFrom('orderId', 'customerId', 'items', 'total', 'currency', 'createdAt', 'extra'), fc.jsonValue(), fc.boolean())
  .map(([i, field, value, drop]) => {
    const copy: Record<string, unknown> = { ...order(i) };
    if (drop) delete copy[field];
    else copy[field] = value;
    return JSON.stringify(copy);
  });

/** A DLQ replay body: the route's own fields with random values, or random ones. */
const replayBody = fc
  .record(
    {
      filter: fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }), fc.constantFrom('error~=^(a+)+$', 'jobType=order.created', 'id=x')),
      since: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('2h', '1d', '2024-01-01T00:00:00Z')),
      limit: fc.oneof(fc.integer(), fc.double()),
      rate: fc.oneof(fc.integer(), fc.string({ maxLength: 8 })),
      dryRun: fc.oneof(fc.boolean(), fc.jsonValue()),
      to: fc.string({ maxLength: 20 }),
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  )
  .map((value) => JSON.stringify(value));

const deepJson = fc.integer({ min: 60, max: 3_000 }).map((depth) => `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);

const body = fc.oneof(
  mutatedOrder,
  replayBody,
  deepJson,
  fc.json(),
  fc.string(),
  fc.constant(JSON.stringify(order(7))),
  fc.array(mutatedOrder, { maxLength: 25 }).map((items) => `[${items.join(',')}]`),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  // Raw bytes, sent as they are: invalid UTF-8 included.
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
);

const contentType = fc.oneof(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'text/plain', 'application/xml', 'application/json; charset=utf-16', 'multipart/form-data', ''),
  fc.string({ maxLength: 40 }),
);

const headerValue = fc.string({ maxLength: 300 }).filter((value) => /^[\x20-\x7e]*$/.test(value));

const request = fc.record({
  path: fc.constantFrom(
    '/v1/jobs/order.created',
    '/v1/jobs/order.created/batch',
    '/v1/jobs/order.cancelled',
    '/v1/jobs/unknown',
    '/v1/jobs/order.created/batch/x',
    // The DLQ routes (their DLQ is empty here: a replay that got through moves nothing).
    '/v1/dlq/inventory.dlq/replay',
    '/v1/dlq/payments.dlq/purge',
    '/v1/dlq/inventory/replay',
    '/v1/dlq/ghost.dlq/replay',
  ),
  body,
  contentType,
  idempotencyKey: fc.option(headerValue, { nil: undefined }),
  correlationId: fc.option(headerValue, { nil: undefined }),
});

it('answers every random or mutated request without a 5xx, and publishes only what it answered 202 for', async () => {
  const before = (await queueDepths(vhost.url, ['fraud-audit']))['fraud-audit'] ?? 0;
  let confirmed = 0;
  await fc.assert(
    fc.asyncProperty(request, async (input) => {
      const headers: Record<string, string> = { 'content-type': input.contentType };
      if (input.idempotencyKey !== undefined) headers['idempotency-key'] = input.idempotencyKey;
      if (input.correlationId !== undefined) headers['x-correlation-id'] = input.correlationId;
      const response = await post(producer.url, input.path, input.body, headers);
      expect(response.status).toBeLessThan(500);
      if (response.status === 202) {
        const accepted = response.body as { accepted?: number };
        confirmed += accepted.accepted ?? 1;
      } else if (response.status === 207) {
        confirmed += (response.body as { accepted: number }).accepted;
      } else if (response.status === 200 && input.path.startsWith('/v1/dlq/')) {
        // A valid DLQ pass over the (empty) DLQ: a summary, nothing published.
        expect(response.body).toMatchObject({ replayed: 0 });
      } else {
        expect(ErrorResponse.safeParse(response.body).success, response.text).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
  expect((await get(producer.url, '/healthz')).status).toBe(200);
  // fraud-audit gets every job of every type through the fanout.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(((await queueDepths(vhost.url, ['fraud-audit']))['fraud-audit'] ?? 0) - before).toBe(confirmed);
});
