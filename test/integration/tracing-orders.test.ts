import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { loadTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { waitFor } from '../fixtures/workers/_support.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { get, order, post } from './producer-fixtures.ts';

/**
 * The reference scenario (topology/orders.yaml: six consumers of one order,
 * payments sharded): an order posted over HTTP with a client's traceparent,
 * inventory failing its first attempt (retry tier 1s) and payments failing
 * its first (retried in place). One trace holds them all.
 */
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const CONSUMERS = ['inventory', 'loyalty', 'recommendation', 'warehouse', 'fraud-audit', 'payments'];
const FAILING_ONCE = new Set(['inventory', 'payments']);
const handled = new Map<string, number[]>();

let plan: TopologyPlan;
let vhost: TestVhost;
let worker: Worker;
let producer: RunningProducer;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  plan = (await loadTopology('topology/orders.yaml')).plan;
  vhost = await createTestVhost('warren-tracing-orders');
  await declarePlanAt(vhost.url, plan);
  const definitions = CONSUMERS.map((consumer) =>
    defineWorker({
      consumer,
      handle: async (_order: unknown, ctx) => {
        handled.set(consumer, [...(handled.get(consumer) ?? []), ctx.attempt]);
        if (FAILING_ONCE.has(consumer) && ctx.attempt === 1) throw new Error(`${consumer} is briefly down`);
      },
    }),
  );
  worker = new Worker(definitions, plan, { urls: [vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 });
  await worker.start();
  producer = await startProducer({ plan, amqpUrls: [vhost.url], managementUrl: vhost.managementUrl, port: 0, apiTokens: undefined, insecure: true, logger: pino({ level: 'silent' }) });
  await waitFor('the producer ready', async () => (await get(producer.url, '/readyz')).status === 200);
});

afterAll(async () => {
  await producer?.close();
  await worker?.stop();
  await vhost?.cleanup();
  trace.disable();
  propagation.disable();
  context.disable();
});

describe('a traced order in the reference scenario', () => {
  it('one trace: the HTTP client, the publish, all six consumers, the tier retry linked, the in-place retry recorded', async () => {
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const clientSpan = '53995c3f42cd8ad8';
    const response = await post(producer.url, '/v1/jobs/order.created', order(1), { traceparent: `00-${traceId}-${clientSpan}-01` });
    expect(response.status).toBe(202);
    const spansOf = (consumer: string): ReadableSpan[] =>
      exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.name === `process ${consumer}`);
    await waitFor('every consumer succeeded', () =>
      CONSUMERS.every((consumer) => spansOf(consumer).some((span) => span.attributes['warren.outcome'] === 'succeeded')),
    );

    const publishes = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.PRODUCER);
    expect(publishes.map((s) => [s.name, s.parentSpanContext?.spanId])).toEqual([['publish orders', clientSpan]]);
    const publishSpan = publishes[0]?.spanContext().spanId;

    for (const consumer of CONSUMERS) {
      for (const span of spansOf(consumer)) expect(span.parentSpanContext?.spanId, consumer).toBe(publishSpan);
    }
    // Five consumers: one delivery each (payments retried in place, inside its one delivery).
    expect(CONSUMERS.map((consumer) => [consumer, spansOf(consumer).length])).toEqual(CONSUMERS.map((consumer) => [consumer, consumer === 'inventory' ? 2 : 1]));

    const [first, second] = spansOf('inventory').sort((a, b) => Number(a.attributes['warren.attempt']) - Number(b.attributes['warren.attempt']));
    expect(first?.attributes['warren.outcome']).toBe('retried');
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    expect(second?.links.map((link) => link.context.spanId)).toEqual([first?.spanContext().spanId]);

    const [payments] = spansOf('payments');
    expect(payments?.attributes).toMatchObject({ 'warren.attempt': 2, 'warren.outcome': 'succeeded', 'messaging.destination.name': 'orders' });
    expect(payments?.attributes['messaging.destination.subscription.name']).toMatch(/^payments\.shard\.\d$/);
    expect(payments?.events.map((event) => event.name)).toEqual(['exception', 'warren.retry_in_place']);
    expect(handled.get('payments')).toEqual([1, 2]);
  });
});
