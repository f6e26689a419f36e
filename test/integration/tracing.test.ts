import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { NonRetryableError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { get, post } from './producer-fixtures.ts';

/**
 * One trace from the HTTP request to every consumer's handler, with an SDK
 * registered the way a user would (in-memory exporter in place of OTLP):
 * two consumers of one job, one failing its first attempt (retry tier),
 * and a third consumer that dead-letters a job which is then replayed.
 */
const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
jobs:
  order.created:
    exchange: shop
    routingKey: order.created
    schema: { type: object, required: [orderId], properties: { orderId: { type: string } } }
  order.refunded:
    exchange: shop
    routingKey: order.refunded
    schema: { type: object, required: [orderId], properties: { orderId: { type: string } } }
consumers:
  billing:
    source: { exchange: shop, pattern: order.created }
    retry: { delays: [200ms] }
  shipping:
    source: { exchange: shop, pattern: order.created }
    retry: { delays: [200ms] }
  refunds:
    source: { exchange: shop, pattern: order.refunded }
    retry: { delays: [200ms] }
`);

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const handlerTracer = provider.getTracer('test-handler');

/** orderId → consumer → attempts seen. */
const seen = new Map<string, Map<string, number[]>>();
let refundsBroken = true;
function saw(orderId: string, consumer: string, attempt: number): void {
  const byConsumer = seen.get(orderId) ?? new Map<string, number[]>();
  seen.set(orderId, byConsumer);
  byConsumer.set(consumer, [...(byConsumer.get(consumer) ?? []), attempt]);
}

const definitions = [
  defineWorker({
    consumer: 'billing',
    handle: async (job: { orderId: string }, ctx) => {
      saw(job.orderId, 'billing', ctx.attempt);
      // The handler's own span nests under warren's process span.
      handlerTracer.startActiveSpan('charge card', (span: Span) => span.end());
    },
  }),
  defineWorker({
    consumer: 'shipping',
    handle: async (job: { orderId: string }, ctx) => {
      saw(job.orderId, 'shipping', ctx.attempt);
      if (ctx.attempt === 1) throw new Error('carrier API timed out');
    },
  }),
  defineWorker({
    consumer: 'refunds',
    handle: async (job: { orderId: string }, ctx) => {
      saw(job.orderId, 'refunds', ctx.attempt);
      if (refundsBroken) throw new NonRetryableError('refunds are switched off');
    },
  }),
];

let vhost: TestVhost;
let worker: Worker;
let producer: RunningProducer;
let client: JobClient;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  vhost = await createTestVhost('warren-tracing');
  await declarePlanAt(vhost.url, plan);
  worker = new Worker(definitions, plan, { urls: [vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), shutdownTimeoutMs: 2_000 });
  await worker.start();
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: undefined,
    insecure: true,
    logger: pino({ level: 'silent' }),
  });
  client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
  await waitFor('the producer ready', async () => (await get(producer.url, '/readyz')).status === 200);
});

afterAll(async () => {
  await client?.close();
  await producer?.close();
  await worker?.stop();
  await vhost?.cleanup();
  trace.disable();
  propagation.disable();
  context.disable();
});

const spans = () => exporter.getFinishedSpans();
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
function processSpans(traceId: string, consumer: string): ReadableSpan[] {
  return spans()
    .filter((s) => s.spanContext().traceId === traceId && s.name === `process ${consumer}`)
    .sort((a, b) => Number(a.attributes['warren.attempt']) - Number(b.attributes['warren.attempt']));
}

describe('OpenTelemetry traces through warren', () => {
  it('one trace spans the HTTP request, the publish and every consumer, the retry linked to the failed attempt', async () => {
    const clientTraceId = '0af7651916cd43dd8448eb211c80319c';
    const clientSpanId = 'b7ad6b7169203331';
    const response = await post(producer.url, '/v1/jobs/order.created', { orderId: 'o-http' }, {
      traceparent: `00-${clientTraceId}-${clientSpanId}-01`,
      tracestate: 'shop=checkout',
    });
    expect(response.status).toBe(202);
    await waitFor('billing once, shipping twice', () => seen.get('o-http')?.get('billing')?.length === 1 && seen.get('o-http')?.get('shipping')?.length === 2);
    await waitFor('every process span ended', () => processSpans(clientTraceId, 'billing').length === 1 && processSpans(clientTraceId, 'shipping').length === 2);

    const [publish, ...otherPublishes] = spans().filter((s) => s.kind === SpanKind.PRODUCER && s.spanContext().traceId === clientTraceId);
    expect(otherPublishes).toEqual([]);
    expect(publish).toBeDefined();
    if (publish === undefined) return;
    expect(publish.name).toBe('publish shop');
    expect(parentOf(publish)).toBe(clientSpanId);
    expect(publish.spanContext().traceState?.get('shop')).toBe('checkout');
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'publish',
      'messaging.destination.name': 'shop',
      'messaging.rabbitmq.destination.routing_key': 'order.created',
      'messaging.message.id': (response.body as { id: string }).id,
      'warren.job.type': 'order.created',
    });

    const [billing] = processSpans(clientTraceId, 'billing');
    const [failed, retried] = processSpans(clientTraceId, 'shipping');
    for (const span of [billing, failed, retried]) {
      expect(span?.kind).toBe(SpanKind.CONSUMER);
      expect(parentOf(span as ReadableSpan)).toBe(publish.spanContext().spanId);
      expect(span?.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'messaging.operation.type': 'process', 'messaging.message.id': (response.body as { id: string }).id });
    }
    expect(billing?.attributes).toMatchObject({ 'warren.consumer': 'billing', 'warren.attempt': 1, 'warren.outcome': 'succeeded', 'messaging.destination.subscription.name': 'billing' });
    expect(billing?.status.code).not.toBe(SpanStatusCode.ERROR);

    expect(failed?.attributes).toMatchObject({ 'warren.attempt': 1, 'warren.outcome': 'retried', 'error.type': 'Error' });
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'carrier API timed out' });
    expect(failed?.events.map((e) => e.name)).toContain('exception');
    expect(retried?.attributes).toMatchObject({ 'warren.attempt': 2, 'warren.outcome': 'succeeded' });
    expect(retried?.links.map((l) => l.context.spanId)).toEqual([failed?.spanContext().spanId]);
    expect(retried?.links[0]?.context.traceId).toBe(clientTraceId);

    const [charge] = spans().filter((s) => s.name === 'charge card' && s.spanContext().traceId === clientTraceId);
    expect(charge && parentOf(charge)).toBe(billing?.spanContext().spanId);
  });

  it('the job client continues the caller\'s active span', async () => {
    const caller = handlerTracer.startSpan('checkout');
    const job = await context.with(trace.setSpan(context.active(), caller), () => client.enqueue('order.created', { orderId: 'o-client' }));
    caller.end();
    const traceId = caller.spanContext().traceId;
    await waitFor('both consumers done', () => processSpans(traceId, 'billing').length === 1 && processSpans(traceId, 'shipping').length === 2);
    const [publish] = spans().filter((s) => s.kind === SpanKind.PRODUCER && s.spanContext().traceId === traceId);
    expect(publish && parentOf(publish)).toBe(caller.spanContext().spanId);
    expect(publish?.attributes['messaging.message.id']).toBe(job.id);
    for (const span of [...processSpans(traceId, 'billing'), ...processSpans(traceId, 'shipping')]) {
      expect(parentOf(span)).toBe(publish?.spanContext().spanId);
    }

    // A batch: one publish span per item, each a child of the caller's span.
    const batchCaller = handlerTracer.startSpan('bulk import');
    const batch = await context.with(trace.setSpan(context.active(), batchCaller), () =>
      client.enqueueMany('order.created', [{ orderId: 'o-batch-0' }, { orderId: 'o-batch-1' }]),
    );
    batchCaller.end();
    expect(batch.accepted).toBe(2);
    const batchPublishes = spans().filter((s) => s.kind === SpanKind.PRODUCER && s.spanContext().traceId === batchCaller.spanContext().traceId);
    expect(batchPublishes.map((s) => parentOf(s))).toEqual([batchCaller.spanContext().spanId, batchCaller.spanContext().spanId]);
    expect(new Set(batchPublishes.map((s) => s.attributes['messaging.message.id']))).toEqual(new Set(batch.results.map((r) => r.id)));
  });

  it('a replayed job gets a new span linked to the original trace and to the failed attempt; its next run joins the replay', async () => {
    const response = await post(producer.url, '/v1/jobs/order.refunded', { orderId: 'o-replay' });
    expect(response.status).toBe(202);
    await waitFor('the refund dead-lettered', async () => (await worker.metrics.registry.getSingleMetricAsString('warren_worker_dead_lettered_total')).includes('consumer="refunds"'));
    const [original] = spans().filter((s) => s.kind === SpanKind.PRODUCER && s.attributes['warren.job.type'] === 'order.refunded');
    expect(original).toBeDefined();
    if (original === undefined) return;
    const originalTrace = original.spanContext().traceId;
    await waitFor('the failed attempt span', () => processSpans(originalTrace, 'refunds').length === 1);
    const [deadLettered] = processSpans(originalTrace, 'refunds');
    expect(deadLettered?.attributes).toMatchObject({ 'warren.outcome': 'dead-lettered', 'warren.dead_letter.reason': 'non-retryable', 'error.type': 'NonRetryableError' });

    refundsBroken = false;
    const adminTrace = '5b8efff798038103d269b633813fc60c';
    const adminSpan = 'eee19b7ec3c1b174';
    const replay = await post(producer.url, '/v1/dlq/refunds.dlq/replay', {}, { traceparent: `00-${adminTrace}-${adminSpan}-01` });
    expect(replay.status).toBe(200);
    await waitFor('the replayed refund handled', () => seen.get('o-replay')?.get('refunds')?.length === 2);
    const [replaySpan] = spans().filter((s) => s.name === 'replay refunds.dlq');
    expect(replaySpan).toBeDefined();
    if (replaySpan === undefined) return;
    expect(replaySpan.kind).toBe(SpanKind.PRODUCER);
    // A new trace: the admin's request that asked for the replay (a root span when the request carries none).
    expect(replaySpan.spanContext().traceId).toBe(adminTrace);
    expect(parentOf(replaySpan)).toBe(adminSpan);
    expect(replaySpan.attributes).toMatchObject({ 'warren.replays': 1, 'messaging.destination.name': '', 'messaging.rabbitmq.destination.routing_key': 'refunds' });
    expect(replaySpan.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes?.['warren.link']])).toEqual([
      [originalTrace, original.spanContext().spanId, 'original'],
      [originalTrace, deadLettered?.spanContext().spanId, 'failed-attempt'],
    ]);
    await waitFor('the replayed run span', () => processSpans(replaySpan.spanContext().traceId, 'refunds').length === 1);
    const [rerun] = processSpans(replaySpan.spanContext().traceId, 'refunds');
    expect(rerun && parentOf(rerun)).toBe(replaySpan.spanContext().spanId);
    expect(rerun?.attributes).toMatchObject({ 'warren.attempt': 1, 'warren.outcome': 'succeeded' });
    expect(rerun?.links).toEqual([]);
  });
});
