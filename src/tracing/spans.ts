import {
  context,
  isSpanContextValid,
  propagation,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { HEADERS } from '../message/headers.ts';
import { packageVersion } from '../package-version.ts';
import { ATTR, errorType, publishAttributes, publishSpanName } from './attributes.ts';
import { amqpHeaderGetter, amqpHeaderSetter, formatSpanContext, parseSpanContext, TRACE_HEADERS, type HeaderCarrier } from './carrier.ts';

/**
 * warren's spans, through `@opentelemetry/api` only. Without an SDK the
 * per-job paths stop at `tracingActive()`. With one, a span whose context is
 * invalid writes no header, and attributes are built only for a span that
 * records (an unsampled span still passes its context on, so the consumers
 * honour the sampling decision).
 */
export const tracer = trace.getTracer('warren', packageVersion());

/** The API's no-op provider: what a proxy with no SDK behind it delegates to. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * False while no OpenTelemetry SDK is registered: the per-job paths return
 * at once, before even the no-op span is made. (A provider from another
 * copy of the API is taken as active; the span checks then decide.)
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** True when the span takes part in a trace (recording or not, e.g. unsampled): its context is worth passing on. */
export function isTraced(span: Span | undefined): span is Span {
  return span !== undefined && isSpanContextValid(span.spanContext());
}

/**
 * The context a new span continues: the caller's active span when there is
 * one (the user's own instrumentation, or an HTTP server span), else the
 * trace the carrier names (a `traceparent` header sent by a client).
 */
export function continueFrom<C>(carrier: C, getter: TextMapGetter<C>): Context {
  const active = context.active();
  if (!tracingActive()) return active;
  if (trace.getSpan(active) !== undefined) return active;
  return propagation.extract(active, carrier, getter);
}

/** The trace a message's headers carry, as a parent context (an empty context when none). */
export function contextOfMessage(headers: HeaderCarrier, parent: Context): Context {
  return propagation.extract(parent, headers, amqpHeaderGetter);
}

/**
 * Starts the PRODUCER span of one published job and writes its context into
 * the message's headers (`traceparent`, `tracestate`, through the
 * registered propagator), so every consumer's span joins the trace.
 */
export function startPublishSpan(message: OutgoingMessage, parent: Context, name?: string): Span {
  return injected(message, parent, tracer.startSpan(name ?? publishSpanName(message.exchange), { kind: SpanKind.PRODUCER }, parent));
}

function injected(message: OutgoingMessage, parent: Context, span: Span): Span {
  if (!isTraced(span)) return span;
  if (span.isRecording()) {
    const { options } = message;
    span.setAttributes(
      publishAttributes({
        exchange: message.exchange,
        routingKey: message.routingKey,
        messageId: String(options.messageId ?? ''),
        jobType: options.type,
        correlationId: options.correlationId,
        bodySize: message.content.length,
      }),
    );
  }
  message.options.headers ??= {};
  propagation.inject(trace.setSpan(parent, span), message.options.headers as HeaderCarrier, amqpHeaderSetter);
  return span;
}

export interface ReplaySpanInput {
  /** The DLQ the job is replayed from. */
  queue: string;
  /** The dead letter's headers as it lay in the DLQ: its trace and its last failed attempt. */
  deadLetterHeaders: HeaderCarrier | undefined;
}

/**
 * Starts the PRODUCER span of a DLQ replay: a new trace (or a child of the
 * caller's active span, e.g. an HTTP replay request), linked to the job's
 * original trace (its `traceparent`) and to its last failed attempt
 * (`x-warren-previous-span`). The replayed message carries the new span's
 * context in place of the old one, so its next attempts join the replay.
 */
export function startReplaySpan(message: OutgoingMessage, input: ReplaySpanInput, parent: Context = context.active()): Span {
  const span = tracer.startSpan(`replay ${input.queue}`, { kind: SpanKind.PRODUCER }, parent);
  if (!isTraced(span)) return span;
  if (span.isRecording()) {
    const original = parseSpanContext(input.deadLetterHeaders?.[TRACE_HEADERS.traceparent]);
    if (original !== undefined) span.addLink({ context: original, attributes: { 'warren.link': 'original' } });
    const failed = parseSpanContext(input.deadLetterHeaders?.[TRACE_HEADERS.previousSpan]);
    if (failed !== undefined) span.addLink({ context: failed, attributes: { 'warren.link': 'failed-attempt' } });
    const replays = Number(message.options.headers?.[HEADERS.replays]);
    if (Number.isInteger(replays)) span.setAttribute(ATTR.replays, replays);
  }
  const headers = message.options.headers as HeaderCarrier | undefined;
  if (headers !== undefined) {
    delete headers[TRACE_HEADERS.traceparent];
    delete headers[TRACE_HEADERS.tracestate];
  }
  return injected(message, parent, span);
}

/** Publishes `message` under its own PRODUCER span (ended with the confirm, or with the error). */
export function publishTraced(
  publish: (message: OutgoingMessage) => Promise<void>,
  message: OutgoingMessage,
  parent?: Context,
): Promise<void> {
  if (!tracingActive()) return publish(message);
  return publishInSpan(publish, message, parent ?? context.active());
}

async function publishInSpan(publish: (message: OutgoingMessage) => Promise<void>, message: OutgoingMessage, parent: Context): Promise<void> {
  const span = startPublishSpan(message, parent);
  if (!isTraced(span)) return publish(message);
  try {
    await publish(message);
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
  endSpan(span);
}

/** Ends a span, first marking it failed with the error when there is one. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined && span.isRecording()) failSpan(span, error);
  span.end();
}

/** Records the error on the span (an `exception` event, `error.type`) and sets the ERROR status. */
export function failSpan(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setAttribute(ATTR.errorType, errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/** The `x-warren-previous-span` value of a span that takes part in a trace, else `undefined`. */
export function previousSpanValue(span: Span | undefined): string | undefined {
  return isTraced(span) ? formatSpanContext(span.spanContext()) : undefined;
}
