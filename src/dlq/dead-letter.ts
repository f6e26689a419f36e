import { HEADERS, type Headers } from '../message/headers.ts';

/**
 * Pure: what a DLQ message says about itself — who it is, why it failed and
 * where it first went — read from our `x-warren-*` headers, else from the
 * `x-death` / `x-first-death-*` headers RabbitMQ adds when it dead-letters a
 * message itself (rejected, expired, max-length). No I/O.
 */

/** The parts of an AMQP message this module reads (amqplib's `Message` fits). */
export interface RawDeadLetter {
  content: Buffer;
  properties: {
    messageId?: unknown;
    type?: unknown;
    contentType?: unknown;
    headers?: Headers | undefined;
  };
}

export interface Origin {
  exchange: string;
  routingKey: string;
}

export interface DeadLetterView {
  id: string | null;
  jobType: string | null;
  attempts: number | null;
  error: { class: string; message: string };
  /** ISO time of the first failure, when known. */
  firstFailedAt: string | null;
  /** ISO time it landed in this DLQ (the last failure), when known. */
  failedAt: string | null;
  /** `null` when neither our headers nor `x-death` say where it went. */
  origin: Origin | null;
  payloadPreview: string;
}

interface DeathEntry {
  queue?: unknown;
  reason?: unknown;
  count?: unknown;
  exchange?: unknown;
  'routing-keys'?: unknown;
  time?: unknown;
}

const PREVIEW_CHARS = 120;

export function describeDeadLetter(message: RawDeadLetter): DeadLetterView {
  const headers = message.properties.headers ?? {};
  const deaths = deathsOf(headers);
  return {
    id: stringOrNull(message.properties.messageId),
    jobType: stringOrNull(message.properties.type),
    attempts: attemptsOf(headers, deaths),
    error: errorOf(headers, deaths),
    firstFailedAt: isoOf(headers[HEADERS.firstFailedAt]) ?? isoOf(deaths.at(-1)?.time) ?? null,
    failedAt: isoOf(headers[HEADERS.failedAt]) ?? isoOf(deaths[0]?.time) ?? null,
    origin: resolveOrigin(headers),
    payloadPreview: payloadPreview(message.content, stringOrNull(message.properties.contentType)),
  };
}

/**
 * Where a dead-lettered message first went: our origin headers, else
 * `x-first-death-exchange` with the first routing key of the oldest
 * `x-death` entry for that exchange (x-death lists the newest death first).
 */
export function resolveOrigin(headers: Headers): Origin | null {
  const exchange = headers[HEADERS.originExchange];
  const routingKey = headers[HEADERS.originRoutingKey];
  if (typeof exchange === 'string' && typeof routingKey === 'string') return { exchange, routingKey };
  const firstExchange = asText(headers['x-first-death-exchange']);
  const deaths = deathsOf(headers);
  const first = [...deaths].reverse().find((d) => firstExchange === undefined || asText(d.exchange) === firstExchange) ?? deaths.at(-1);
  if (first === undefined) return null;
  const keys = Array.isArray(first['routing-keys']) ? first['routing-keys'].map(asText) : [];
  const key = keys[0];
  const deathExchange = firstExchange ?? asText(first.exchange);
  if (deathExchange === undefined || key === undefined) return null;
  return { exchange: deathExchange, routingKey: key };
}

/** One line of text: UTF-8 JSON/text trimmed to a few dozen characters, else a byte count. */
export function payloadPreview(content: Buffer, contentType: string | null, max = PREVIEW_CHARS): string {
  const textual = contentType === null || /json|text|xml|yaml/i.test(contentType);
  const text = textual ? content.toString('utf8') : '';
  if (!textual || text.includes('\uFFFD')) return `<${content.length} bytes ${contentType ?? 'binary'}>`;
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function errorOf(headers: Headers, deaths: DeathEntry[]): DeadLetterView['error'] {
  const errorClass = asText(headers[HEADERS.errorClass]);
  const errorMessage = asText(headers[HEADERS.errorMessage]);
  if (errorClass !== undefined || errorMessage !== undefined) {
    return { class: errorClass ?? 'Error', message: errorMessage ?? '' };
  }
  const reason = asText(headers['x-first-death-reason']) ?? asText(deaths.at(-1)?.reason);
  if (reason === undefined) return { class: 'unknown', message: 'no failure context on this message' };
  const queue = asText(headers['x-first-death-queue']) ?? asText(deaths.at(-1)?.queue);
  return { class: reason, message: `dead-lettered by the broker (${reason})${queue ? ` from queue ${queue}` : ''}` };
}

function attemptsOf(headers: Headers, deaths: DeathEntry[]): number | null {
  const ours = Number(headers[HEADERS.attempts]);
  if (Number.isInteger(ours) && ours >= 1) return ours;
  const counted = deaths.reduce((sum, d) => sum + (typeof d.count === 'number' ? d.count : 0), 0);
  return counted > 0 ? counted : null;
}

function deathsOf(headers: Headers): DeathEntry[] {
  const value = headers['x-death'];
  return Array.isArray(value) ? value.filter((d): d is DeathEntry => typeof d === 'object' && d !== null) : [];
}

/** Header strings may arrive as Buffers (AMQP long strings from some clients). */
function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

function stringOrNull(value: unknown): string | null {
  return asText(value) ?? null;
}

/** ISO text, or an AMQP timestamp (seconds; amqplib decodes it as `{'!': 'timestamp', value}`). */
function isoOf(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const time = Date.parse(value);
    return Number.isNaN(time) ? undefined : new Date(time).toISOString();
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null && 'value' in value && typeof value.value === 'number') {
    return new Date(value.value * 1000).toISOString();
  }
  if (typeof value === 'number') return new Date(value * 1000).toISOString();
  return undefined;
}
