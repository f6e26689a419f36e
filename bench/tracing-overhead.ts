/**
 * What tracing costs per job, in nanoseconds, in-process (no broker): the
 * worker's trace step and the producer's traced publish, against the bare
 * call, first with no OpenTelemetry SDK registered (what every user without
 * tracing runs), then with an SDK recording every span into memory.
 * `node --import tsx bench/tracing-overhead.ts`
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OutgoingMessage } from '../src/broker/confirm-publisher.ts';
import { publishTraced } from '../src/tracing/spans.ts';
import type { JobState } from '../src/worker/context.ts';
import { traceStep } from '../src/worker/steps/trace.ts';

const N = Number(process.env.BENCH_TRACING_N ?? 300_000);
const step = traceStep({ consumer: 'billing' });
const next = () => Promise.resolve();
const publish = (_message: OutgoingMessage) => Promise.resolve();

function job(): JobState {
  return {
    delivery: { content: Buffer.from('{}'), exchange: 'shop', routingKey: 'order.created', queue: 'billing', redelivered: false, properties: { messageId: 'id', type: 'order.created', headers: {} }, ack: () => true, nack: () => true },
    jobId: 'id',
    orderingKey: undefined,
    headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    attempt: 1,
    body: undefined,
    payload: undefined,
    tx: undefined,
    duplicate: false,
    outcome: 'succeeded',
  } as unknown as JobState;
}
function message(): OutgoingMessage {
  return { exchange: 'shop', routingKey: 'order.created', content: Buffer.from('{}'), options: { messageId: 'id', headers: { 'x-warren-attempt': 1 } } };
}

async function nsPerOp(run: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 20_000; i++) await run(); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await run();
  return Number(process.hrtime.bigint() - start) / N;
}

async function measure(label: string): Promise<void> {
  const ctx = job();
  const bareStep = await nsPerOp(() => next());
  const tracedStep = await nsPerOp(() => step(ctx, next));
  const barePublish = await nsPerOp(() => publish(message()));
  const tracedPublish = await nsPerOp(() => publishTraced(publish, message()));
  console.log(`${label.padEnd(22)} worker step ${(tracedStep - bareStep).toFixed(0).padStart(6)} ns/job   publish ${(tracedPublish - barePublish).toFixed(0).padStart(6)} ns/job`);
}

await measure('no SDK');
const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ export: (spans, done) => done({ code: 0 }), shutdown: async () => undefined })] }));
void exporter;
await measure('SDK, every span kept');
