import type { GetMessage } from 'amqplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { errorBody } from '../../src/producer/http-errors.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { enqueueApiError } from '../../src/producer/job-routes.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { drain, order, post, producerTestPlan } from './producer-fixtures.ts';

/**
 * One contract, two doors: each row of the table goes once through
 * `POST /v1/jobs/{jobType}` and once through the job client's `enqueue`
 * (whose error is projected with `enqueueApiError`, the function the route
 * answers with). Both must give the row's status and code and the same
 * body, and an accepted job must be the same message on the broker.
 */
interface Row {
  name: string;
  jobType: string;
  payload: unknown;
  idempotencyKey?: string;
  correlationId?: string;
  status: number;
  code?: string;
}

const long = (n: number) => 'k'.repeat(n);
const badItems = Array.from({ length: 30 }, () => ({ sku: '', quantity: 0, price: -1 }));

const ROWS: Row[] = [
  { name: 'a valid job', jobType: 'order.created', payload: order(1), idempotencyKey: 'contract-1', status: 202 },
  { name: 'with a correlation id', jobType: 'order.cancelled', payload: { orderId: 'o-2', reason: 'r' }, idempotencyKey: 'contract-2', correlationId: 'corr-2', status: 202 },
  { name: 'an ordering key at its limit (255 bytes)', jobType: 'keyed.job', payload: { account: long(255) }, idempotencyKey: 'contract-3', status: 202 },
  { name: 'an unknown job type', jobType: 'order.shipped', payload: order(1), status: 404, code: 'UNKNOWN_JOB_TYPE' },
  { name: 'a field of the wrong type', jobType: 'order.created', payload: { ...order(4), total: 'ten' }, status: 400, code: 'INVALID_PAYLOAD' },
  { name: 'a field the schema does not know', jobType: 'order.created', payload: { ...order(5), coupon: 'FREE' }, status: 400, code: 'INVALID_PAYLOAD' },
  { name: 'more issues than an answer lists', jobType: 'order.created', payload: { ...order(6), items: badItems }, status: 400, code: 'INVALID_PAYLOAD' },
  { name: 'not an object', jobType: 'order.created', payload: [1, 2], status: 400, code: 'INVALID_PAYLOAD' },
  { name: 'no ordering key', jobType: 'keyed.job', payload: { other: 1 }, status: 400, code: 'INVALID_PAYLOAD' },
  { name: 'an ordering key over 255 bytes', jobType: 'keyed.job', payload: { account: long(256) }, status: 400, code: 'INVALID_PAYLOAD' },
  { name: 'an idempotency key with a space', jobType: 'order.created', payload: order(7), idempotencyKey: 'has space', status: 400, code: 'INVALID_HEADER' },
  { name: 'an idempotency key of 201 characters', jobType: 'order.created', payload: order(8), idempotencyKey: long(201), status: 400, code: 'INVALID_HEADER' },
  { name: 'a correlation id of 201 characters', jobType: 'order.created', payload: order(9), correlationId: long(201), status: 400, code: 'INVALID_HEADER' },
  { name: 'a job no queue is bound for', jobType: 'orphan.job', payload: {}, idempotencyKey: 'contract-orphan', status: 502, code: 'UNROUTABLE' },
];

let vhost: TestVhost;
let plan: TopologyPlan;
let producer: RunningProducer;
let client: JobClient;

beforeAll(async () => {
  vhost = await createTestVhost('enqueue-contract');
  const base = await producerTestPlan();
  plan = {
    ...base,
    jobs: [...base.jobs, { type: 'keyed.job', exchange: 'orders', routingKey: 'keyed.job', orderingKey: 'account', payloadSchema: { type: 'object' } }],
  };
  await declarePlanAt(vhost.url, plan);
  producer = await startProducer({ plan, amqpUrls: [vhost.url], managementUrl: vhost.managementUrl, port: 0, apiTokens: undefined, insecure: true, logger: pino({ level: 'silent' }) });
  client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
  for (let i = 0; i < 100 && (await fetch(`${producer.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await client?.close();
  await producer?.close();
  await vhost?.cleanup();
});

async function viaHttp(row: Pick<Row, 'jobType' | 'payload' | 'idempotencyKey' | 'correlationId'>, path = ''): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (row.idempotencyKey !== undefined) headers['idempotency-key'] = row.idempotencyKey;
  if (row.correlationId !== undefined) headers['x-correlation-id'] = row.correlationId;
  const { status, body } = await post(producer.url, `/v1/jobs/${encodeURIComponent(row.jobType)}${path}`, row.payload, headers);
  return { status, body };
}

async function viaClient(row: Row): Promise<{ status: number; body: unknown }> {
  const options = { idempotencyKey: row.idempotencyKey, correlationId: row.correlationId };
  return client.enqueue(row.jobType, row.payload, options).then(
    (job) => ({ status: 202, body: job }),
    (error: unknown) => {
      const apiError = enqueueApiError(error);
      return { status: apiError.status, body: errorBody(apiError) };
    },
  );
}

/** What must be equal between the two copies of one accepted job (not the send time). */
function comparable(message: GetMessage) {
  const { timestamp: _sent, headers, ...properties } = message.properties;
  const { [HEADERS.firstSeenAt]: _seen, ...rest } = (headers ?? {}) as Record<string, unknown>;
  return { content: message.content.toString(), properties, headers: rest, routingKey: message.fields.routingKey, exchange: message.fields.exchange };
}

describe('POST /v1/jobs/{jobType} and the job client: one table, one answer', () => {
  it.each(ROWS)('$name → $status', async (row) => {
    const http = await viaHttp(row);
    const code = await viaClient(row);
    expect(http.status).toBe(row.status);
    if (row.code !== undefined) expect((http.body as { error: { code: string } }).error.code).toBe(row.code);
    expect(code).toEqual(http);
    if (row.status === 202) {
      // fraud-audit takes every job type (orders.all fanout): both copies are there, alike.
      const copies = (await drain(vhost.url, 'fraud-audit')).filter((m) => m.properties.messageId === row.idempotencyKey);
      expect(copies).toHaveLength(2);
      expect(comparable(copies[1] as GetMessage)).toEqual(comparable(copies[0] as GetMessage));
    }
  });

  it('a batch: the same per-item results, a failed item holding back later items of its ordering key', async () => {
    const items = [{ ...order(20), total: 'bad' }, order(20), order(21), { ...order(22), coupon: 'X' }];
    const http = await viaHttp({ jobType: 'order.created', payload: items, idempotencyKey: 'contract-batch' }, '/batch');
    const batch = await client.enqueueMany('order.created', items, { idempotencyKey: 'contract-batch' });
    const projected = batch.results.map((item) => {
      if (item.ok) return { index: item.index, status: 202, id: item.id };
      const apiError = enqueueApiError(item.error, 5);
      return { index: item.index, status: apiError.status, id: item.id, ...errorBody(apiError) };
    });
    expect(http.status).toBe(207);
    expect(http.body).toEqual({ accepted: batch.accepted, results: projected });
    expect(projected.map((item) => item.status)).toEqual([400, 424, 202, 400]);
  });
});
