import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../src/broker/confirm-publisher.ts';
import { createLogger } from '../../src/log.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { publishTraced, startReplaySpan, tracer, tracingActive } from '../../src/tracing/spans.ts';
import type { JobState } from '../../src/worker/context.ts';
import { traceStep } from '../../src/worker/steps/trace.ts';

/** No OpenTelemetry SDK registered in this file: warren's tracing must do nothing at all. */
describe('tracing without an SDK', () => {
  const message = (): OutgoingMessage => ({
    exchange: 'shop',
    routingKey: 'order.created',
    content: Buffer.from('{}'),
    options: { messageId: 'id-1', headers: { [HEADERS.attempt]: 1, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } },
  });

  it('gets a non-recording tracer whose spans have no valid context', () => {
    const span = tracer.startSpan('x');
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    expect(tracingActive()).toBe(false);
  });

  it('publishes the message untouched: a caller\'s own traceparent stays, nothing is added', async () => {
    const sent: OutgoingMessage[] = [];
    const outgoing = message();
    const before = structuredClone(outgoing.options.headers);
    await publishTraced(async (m) => void sent.push(m), outgoing);
    expect(sent).toEqual([outgoing]);
    expect(outgoing.options.headers).toEqual(before);
    const replayed = message();
    startReplaySpan(replayed, { queue: 'shop.dlq', deadLetterHeaders: replayed.options.headers }).end();
    expect(replayed.options.headers).toEqual(before);
  });

  it('the worker trace step only calls next and leaves no span on the job', async () => {
    const ctx = { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, logger: createLogger('t', { level: 'silent', pretty: false }) } as unknown as JobState;
    let ran = 0;
    await traceStep({ consumer: 'billing' })(ctx, async () => {
      ran++;
    });
    expect(ran).toBe(1);
    expect(ctx.span).toBeUndefined();
  });
});
