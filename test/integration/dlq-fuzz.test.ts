import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ErrorResponse } from '../../src/producer/api-schemas.ts';
import type { RunningProducer } from '../../src/producer/index.ts';
import { ADMIN, createOrdersScenario, depth, drain, fillQueue, startTestProducer, type DlqScenario } from './dlq-fixtures.ts';

// The request fuzzer of the producer (producer-fuzz.test.ts), on the DLQ
// routes (issue 11): random and mutated queries, bodies and content types
// never get a 5xx, and a DLQ changes only for a valid, confirmed, non-dry
// replay or purge.

const DLQ = 'inventory.dlq';
const HELD = 5;
const WATCHED = ['inventory', 'warehouse', 'recommendation'];

let s: DlqScenario;
let producer: RunningProducer;

beforeAll(async () => {
  s = await createOrdersScenario('dlq-fuzz');
  producer = await startTestProducer(s);
  await refill();
});

afterAll(async () => {
  await producer?.close();
  await s?.cleanup();
});

async function refill(): Promise<void> {
  for (const queue of [DLQ, ...WATCHED]) await drain(s.connection, queue);
  await fillQueue(s.channel, DLQ, HELD, (i) => ({ id: `fz-${i}`, consumer: 'inventory', errorClass: i % 2 ? 'StockError' : 'Timeout', errorMessage: `failure ${i}` }));
  // Queue counts can trail a drain for a moment (quorum queues): start each case from a state the counts agree on.
  const deadline = Date.now() + 10_000;
  while (!(await atRest())) {
    if (Date.now() > deadline) throw new Error('the queues did not settle after a refill');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function atRest(): Promise<boolean> {
  const moved = await Promise.all(WATCHED.map((queue) => depth(s.connection, queue)));
  return (await depth(s.connection, DLQ)) === HELD && moved.every((n) => n === 0);
}

const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', 'inventory.dlq', 'warehouse', 'payments.shard.1', '../x', 'x'.repeat(300)));
const number = fc.oneof(fc.integer({ min: -5, max: 150 }), fc.constantFrom(1e12, -0, 0.5, Number.MAX_SAFE_INTEGER));
const filter = fc.oneof(
  fc.constantFrom('jobType=order.created', 'error=Stock', 'error~=^(a+)+$', 'error~=(', 'id~=fz-[0-3]', 'header.x-warren-consumer=inventory', 'colour=red', 'error~=' + 'a'.repeat(300)),
  fc.string({ maxLength: 30 }),
);

/** Bodies shaped like replay/purge requests, with every field sometimes right, sometimes wrong. */
const shapedBody = fc.record(
  {
    filter: fc.oneof(filter, fc.array(filter, { maxLength: 4 }), fc.jsonValue()),
    since: fc.oneof(fc.constantFrom('2h', '2020-01-01T00:00:00Z', 'yesterday'), fc.jsonValue()),
    limit: fc.oneof(number, fc.jsonValue()),
    rate: fc.oneof(fc.constantFrom(1_000, '500/s', 'fast', 0, -1), fc.jsonValue()),
    dryRun: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)),
    to: fc.oneof(anyText, fc.jsonValue()),
    force: fc.oneof(fc.boolean(), fc.constantFrom('yes')),
    confirm: fc.oneof(anyText, fc.jsonValue()),
    listOffset: number,
    listLimit: number,
    colour: fc.string({ maxLength: 5 }),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  shapedBody.map((value) => JSON.stringify(value)),
  fc.json(),
  fc.string({ maxLength: 60 }),
  fc.constant(''),
  fc.constant(`{"dryRun":true,"filter":"id=nothing"}`),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);

const contentType = fc.oneof(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', ''),
  fc.string({ maxLength: 30 }),
);

const queryValue = fc.oneof(number.map(String), anyText);
const query = fc
  .array(fc.tuple(fc.constantFrom('limit', 'offset', 'groupLimit', 'groupOffset', 'limit[]', 'x'), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&')}`));

const path = fc.oneof(
  fc.constantFrom(`/v1/dlq/${DLQ}`, `/v1/dlq/${DLQ}/replay`, `/v1/dlq/${DLQ}/purge`, '/v1/dlq/inventory', '/v1/dlq/nope.dlq/replay', '/v1/dlq/payments.shard.0/purge', `/v1/dlq/${DLQ}/replay/x`, '/v1/dlq/%2e%2e%2fqueues', '/v1/dlq/'),
  fc.string({ maxLength: 20 }).map((segment) => `/v1/dlq/${encodeURIComponent(segment)}`),
);

const randomRequest = fc.record({ method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT'), path, query, body, contentType });

/** Valid acting requests too (a real replay, a confirmed purge), so the property also covers "acts when asked". */
const validRequest = fc.record({
  method: fc.constant('POST'),
  path: fc.constantFrom(`/v1/dlq/${DLQ}/replay`, `/v1/dlq/${DLQ}/purge`),
  query: fc.constant(''),
  body: fc
    .record({ filter: fc.constantFrom('error=Stock', 'id~=fz-[0-3]', 'jobType=order.created'), to: fc.constantFrom('warehouse', 'recommendation'), confirm: fc.constant(DLQ) }, { requiredKeys: [] })
    .map((value) => JSON.stringify(value)),
  contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8'),
});

const request = fc.oneof({ arbitrary: randomRequest, weight: 9 }, { arbitrary: validRequest, weight: 1 });

/** A request that may change the DLQ: a replay (not dry), or a purge confirmed with the queue name (not dry). */
function asksToAct(input: { method: string; path: string; body: string; contentType: string }): boolean {
  if (input.method !== 'POST' || !/^application\/json\s*(;\s*charset=utf-8)?$/i.test(input.contentType)) return false;
  let parsed: unknown;
  try {
    parsed = input.body === '' ? {} : JSON.parse(input.body);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const fields = parsed as Record<string, unknown>;
  if (fields.dryRun === true) return false;
  if (input.path === `/v1/dlq/${DLQ}/replay`) return true;
  return input.path === `/v1/dlq/${DLQ}/purge` && fields.confirm === DLQ;
}

it('answers every random or mutated DLQ request without a 5xx, and changes the DLQ only when validly asked to', async () => {
  let acted = 0;
  await fc.assert(
    fc.asyncProperty(request, async (input) => {
      const headers: Record<string, string> = { ...ADMIN };
      if (input.contentType !== '') headers['content-type'] = input.contentType;
      const response = await fetch(`${producer.url}${input.path}${input.query}`, {
        method: input.method,
        headers,
        ...(input.method !== 'GET' && { body: input.body }),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      expect(response.status, `${input.method} ${input.path}${input.query} ${text.slice(0, 200)}`).toBeLessThan(500);
      if (response.status >= 400) expect(ErrorResponse.safeParse(JSON.parse(text)).success, text).toBe(true);

      if (!(await atRest())) {
        // Only a valid request, answered 200, may have acted.
        expect(asksToAct(input), `${input.method} ${input.path} ${input.contentType} ${input.body}`).toBe(true);
        expect(response.status).toBe(200);
        acted++;
        await refill();
      }
    }),
    { numRuns: 250 },
  );
  expect((await fetch(`${producer.url}/healthz`)).status).toBe(200);
  // The generator does reach the acting paths, or the property proves little.
  expect(acted).toBeGreaterThan(0);
}, 600_000);
