import { parseSpanContext, traceIdOf as traceIdOfCarrier, type HeaderCarrier } from '../tracing/carrier.ts';

/**
 * The trace id the job history stores, so that a job's timeline links to
 * its trace: read from the W3C `traceparent` header the tracing side writes
 * (the producer, the job client, and kept on every retry/DLQ copy). One
 * parser for the whole code base, src/tracing/carrier.ts; here only the
 * history's shape of the answer, `null` when there is none.
 */

/** The trace id of one `traceparent` value, or `null` when absent or not a valid trace context. */
export function traceIdOf(header: unknown): string | null {
  return parseSpanContext(header)?.traceId ?? null;
}

/** The trace id of a message's headers (`traceparent`), or `null`. */
export function traceIdOfHeaders(headers: Readonly<Record<string, unknown>> | undefined): string | null {
  return traceIdOfCarrier(headers as HeaderCarrier | undefined) ?? null;
}
