/**
 * Pure: the trace id of a W3C `traceparent` header
 * (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`), or `null` when
 * the header is absent or not a valid trace context. The job history stores
 * it so that a job's timeline links to its trace; the header itself is
 * written by the tracing side (the producer, the job client, every copy).
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);

export function traceIdOf(header: unknown): string | null {
  const value = typeof header === 'string' ? header : Buffer.isBuffer(header) ? header.toString('latin1') : undefined;
  if (value === undefined || value.length > 512) return null;
  const match = TRACEPARENT.exec(value.trim());
  if (match === null) return null;
  const [, version, traceId, parentId] = match;
  // Version ff is forbidden; version 00 has exactly four fields (no suffix).
  if (version === 'ff' || (version === '00' && value.trim().length !== 55)) return null;
  if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return null;
  return traceId ?? null;
}

/** The trace id of a message's headers (`traceparent`), or `null`. */
export function traceIdOfHeaders(headers: Readonly<Record<string, unknown>> | undefined): string | null {
  return headers === undefined ? null : traceIdOf(headers.traceparent);
}
