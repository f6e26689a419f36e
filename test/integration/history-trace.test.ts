import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { openHistory, type JobHistory, type JobHistoryHandle } from '../../src/history/index.ts';
import { createLogger } from '../../src/log.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { defineWorker, Worker, type JobSettledEvent } from '../../src/worker/index.ts';
import { uniqueName } from '../support/broker.ts';
import { createOrdersScenario, type DlqScenario } from './dlq-fixtures.ts';

/**
 * The job history stores the trace id: with an OpenTelemetry SDK registered
 * (in-memory exporter), the `traceparent` the producer and the job client
 * write into the message (tracing, issue 14) is what the history keeps, for
 * the job and for each of its attempts, so a timeline links to its trace.
 */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = uniqueName('warren_history_tr').replaceAll(/[^a-z0-9_]/g, '_').slice(0, 40);
const logger = createLogger('test', { level: 'silent', pretty: false });
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
const settled: JobSettledEvent[] = [];
const failed = new Set<string>();

const definitions = [
  defineWorker({
    consumer: 'inventory',
    handle: async (payload) => {
      const { orderId } = payload as { orderId: string };
      if (!failed.has(orderId)) {
        failed.add(orderId);
        throw new Error('stock service timed out');
      }
    },
  }),
];

let scenario: DlqScenario;
let producer: RunningProducer;
let worker: Worker;
let client: JobClient;
let producerHistory: JobHistoryHandle;
let workerHistory: JobHistoryHandle;
let clientHistory: JobHistoryHandle;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  scenario = await createOrdersScenario('history-trace');
  const options = { url: DATABASE_URL, schema, writer: { flushIntervalMs: 20 } };
  producerHistory = openHistory(options, { logger });
  workerHistory = openHistory(options, { logger });
  clientHistory = openHistory(options, { logger });
  producer = await startProducer({ plan: scenario.plan, amqpUrls: [scenario.vhost.url], managementUrl: scenario.vhost.managementUrl, apiTokens: 'trace-admin:admin', port: 0, logger, history: producerHistory });
  worker = new Worker(definitions, scenario.plan, { urls: [scenario.vhost.url], logger, history: workerHistory, onJobSettled: (event) => settled.push(event) });
  await worker.start();
  client = await createJobClient({ topology: scenario.plan, amqpUrls: [scenario.vhost.url], history: clientHistory });
});

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await producer?.close();
  for (const handle of [producerHistory, workerHistory, clientHistory]) await handle?.close();
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
  await scenario?.cleanup();
  trace.disable();
  propagation.disable();
  context.disable();
});

function order(orderId: string) {
  return { orderId, customerId: 'c-1', items: [{ sku: 's', quantity: 1, price: 1 }], total: 1, currency: 'EUR', createdAt: new Date().toISOString() };
}

async function historyOf(id: string): Promise<JobHistory> {
  const deadline = Date.now() + 30_000;
  while (!settled.some((e) => e.jobId === id && e.outcome === 'succeeded')) {
    if (Date.now() > deadline) throw new Error(`${id} never succeeded`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const handle of [producerHistory, workerHistory, clientHistory]) await handle.writer.flush();
  const response = await fetch(`${producer.url}/v1/jobs/order.created/${encodeURIComponent(id)}`, { headers: { authorization: 'Bearer trace-admin' } });
  expect(response.status).toBe(200);
  return (await response.json()) as JobHistory;
}

describe('job history with tracing', () => {
  it('stores the trace id of the traceparent the HTTP producer wrote, on the job and on every attempt', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${producer.url}/v1/jobs/order.created`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer trace-admin', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify(order('traced-http')),
    });
    expect(response.status).toBe(202);
    const job = await historyOf(String(((await response.json()) as { id: string }).id));
    expect(job.traceId).toBe(traceId);
    const inventory = job.consumers.find((c) => c.consumer === 'inventory');
    expect(inventory?.attempts.map((a) => [a.attempt, a.outcome, a.traceId])).toEqual([
      [1, 'retried', traceId],
      [2, 'succeeded', traceId],
    ]);
  });

  it('stores the trace id of the job client caller’s active span', async () => {
    const span = provider.getTracer('test').startSpan('checkout');
    const enqueued = await context.with(trace.setSpan(context.active(), span), () => client.enqueue('order.created', order('traced-client')));
    span.end();
    const job = await historyOf(enqueued.id);
    expect(job.traceId).toBe(span.spanContext().traceId);
    expect(job.consumers[0]?.attempts.every((a) => a.traceId === span.spanContext().traceId)).toBe(true);
  });
});
