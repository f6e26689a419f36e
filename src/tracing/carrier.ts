import {
  isSpanContextValid,
  TraceFlags,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { HEADERS } from '../message/headers.ts';

/**
 * Pure: how trace context rides on an AMQP message. The W3C `traceparent`
 * and `tracestate` are plain string headers (whatever propagator the user
 * registered writes them through these accessors); the span of a failed
 * attempt, which a retry copy or a dead letter carries so the next attempt
 * or a replay can link to it, is warren's own header in the `traceparent`
 * format.
 */

export const TRACE_HEADERS = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** The span of the attempt that failed, on a retry copy or a dead letter. */
  previousSpan: HEADERS.previousSpan,
} as const;

/** AMQP headers as amqplib hands them over: values may be strings, numbers, Buffers (long strings). */
export type HeaderCarrier = Record<string, unknown>;

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** Reads propagation fields from AMQP message headers. */
export const amqpHeaderGetter: TextMapGetter<HeaderCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => headerText(carrier[key]),
};

/** Writes propagation fields into AMQP message headers. */
export const amqpHeaderSetter: TextMapSetter<HeaderCarrier> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Node's incoming HTTP headers (lower-case names; a repeated header is an array). */
export type HttpHeaderCarrier = Record<string, string | string[] | undefined>;

export const httpHeaderGetter: TextMapGetter<HttpHeaderCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span context in the `traceparent` format (version 00). */
export function formatSpanContext(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The span context a `traceparent`-format value names, or `undefined` when it is not one (or names the invalid all-zero ids). */
export function parseSpanContext(value: unknown): SpanContext | undefined {
  const text = headerText(value)?.trim().toLowerCase();
  if (text === undefined) return undefined;
  const match = TRACEPARENT.exec(text);
  if (match === null) return undefined;
  const spanContext: SpanContext = {
    traceId: match[1] as string,
    spanId: match[2] as string,
    traceFlags: Number.parseInt(match[3] as string, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** The trace id a message's `traceparent` header names, for whoever stores it (the job history). */
export function traceIdOf(headers: HeaderCarrier | undefined): string | undefined {
  return parseSpanContext(headers?.[TRACE_HEADERS.traceparent])?.traceId;
}
