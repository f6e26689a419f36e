import { TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { HEADERS, deadLetterHeaders, replayHeaders, retryHeaders } from '../../src/message/headers.ts';
import { processAttributes, publishAttributes, publishSpanName } from '../../src/tracing/attributes.ts';
import {
  amqpHeaderGetter,
  amqpHeaderSetter,
  formatSpanContext,
  httpHeaderGetter,
  parseSpanContext,
  traceIdOf,
} from '../../src/tracing/carrier.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('trace context in AMQP headers', () => {
  it('reads strings and long-string Buffers, ignores other values', () => {
    const headers = { traceparent: TRACEPARENT, tracestate: Buffer.from('vendor=1'), n: 3 };
    expect(amqpHeaderGetter.get(headers, 'traceparent')).toBe(TRACEPARENT);
    expect(amqpHeaderGetter.get(headers, 'tracestate')).toBe('vendor=1');
    expect(amqpHeaderGetter.get(headers, 'n')).toBeUndefined();
    expect(amqpHeaderGetter.keys(headers)).toEqual(['traceparent', 'tracestate', 'n']);
    const carrier: Record<string, unknown> = {};
    amqpHeaderSetter.set(carrier, 'traceparent', TRACEPARENT);
    expect(carrier).toEqual({ traceparent: TRACEPARENT });
  });

  it('reads HTTP headers by their lower-case names', () => {
    expect(httpHeaderGetter.get({ traceparent: TRACEPARENT }, 'Traceparent')).toBe(TRACEPARENT);
  });

  it('formats and parses a span context in the traceparent format', () => {
    const spanContext = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED };
    expect(formatSpanContext(spanContext)).toBe(TRACEPARENT);
    expect(formatSpanContext({ ...spanContext, traceFlags: TraceFlags.NONE })).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
    expect(parseSpanContext(TRACEPARENT)).toEqual({ ...spanContext, isRemote: true });
    expect(parseSpanContext(Buffer.from(TRACEPARENT))?.spanId).toBe(SPAN_ID);
    expect(traceIdOf({ traceparent: TRACEPARENT })).toBe(TRACE_ID);
  });

  it('refuses what is not a valid traceparent', () => {
    for (const bad of [undefined, 42, '', 'garbage', `01-${TRACE_ID}-${SPAN_ID}-01x`, `00-${'0'.repeat(32)}-${SPAN_ID}-01`, `00-${TRACE_ID}-${'0'.repeat(16)}-01`, `00-${TRACE_ID}-${SPAN_ID}`]) {
      expect(parseSpanContext(bad)).toBeUndefined();
    }
    expect(traceIdOf(undefined)).toBeUndefined();
  });

  it('retry, dead-letter and replay copies keep traceparent, tracestate and the previous span', () => {
    const headers = { traceparent: TRACEPARENT, tracestate: 'vendor=1', [HEADERS.previousSpan]: TRACEPARENT, [HEADERS.attempt]: 1 };
    const retry = retryHeaders(headers, 2, new Date());
    expect(retry).toMatchObject({ traceparent: TRACEPARENT, tracestate: 'vendor=1' });
    const dead = deadLetterHeaders(retry, {
      reason: 'attempts-exhausted',
      error: { class: 'Error', message: 'boom' },
      attempts: 2,
      worker: 'w',
      consumer: 'c',
      deliveredFrom: { exchange: 'x', routingKey: 'k' },
      now: new Date(),
    });
    expect(dead).toMatchObject({ traceparent: TRACEPARENT, tracestate: 'vendor=1' });
    expect(replayHeaders(dead)).toMatchObject({ traceparent: TRACEPARENT, tracestate: 'vendor=1' });
  });
});

describe('messaging span attributes', () => {
  it('names a publish after the OpenTelemetry messaging conventions', () => {
    expect(publishAttributes({ exchange: 'orders', routingKey: 'order.created', messageId: 'id-1', jobType: 'order.created', correlationId: 'c-1', bodySize: 12 })).toEqual({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'publish',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'orders',
      'messaging.rabbitmq.destination.routing_key': 'order.created',
      'messaging.message.id': 'id-1',
      'messaging.message.conversation_id': 'c-1',
      'messaging.message.body.size': 12,
      'warren.job.type': 'order.created',
    });
    expect(publishAttributes({ exchange: '', routingKey: '', messageId: 'id', jobType: undefined, bodySize: 0 })).not.toHaveProperty('messaging.rabbitmq.destination.routing_key');
    expect(publishSpanName('')).toBe('publish (default)');
  });

  it('names a handler run with its consumer, queue and attempt', () => {
    const attributes = processAttributes({
      consumer: 'billing',
      queue: 'billing',
      exchange: '',
      routingKey: 'billing.retry.1s',
      messageId: 'id-1',
      jobType: 'order.created',
      correlationId: undefined,
      attempt: 2,
      bodySize: 5,
    });
    expect(attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': '',
      'messaging.destination.subscription.name': 'billing',
      'messaging.message.id': 'id-1',
      'warren.consumer': 'billing',
      'warren.attempt': 2,
    });
    expect(attributes).not.toHaveProperty('messaging.message.conversation_id');
  });
});
