import type { DlqBroker, HeldMessage } from './broker.ts';
import { clipText, FIELD_BYTES } from './bounds.ts';
import { describeDeadLetter, type DeadLetterView } from './dead-letter.ts';

/** Bytes of payload shown in full; a larger body is cut (and says so). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Bytes of JSON for all the headers together; past it, the largest values are clipped. */
const MAX_HEADER_VALUE_BYTES = 4 * 1024;
const MAX_HEADERS = 200;

/** One dead letter in full: what `GET /v1/dlq/{queue}/messages/{id}` answers. */
export interface DeadLetterDetail extends DeadLetterView {
  /** Its place in the queue (0 = head) when it was read. */
  position: number;
  properties: {
    contentType: string | null;
    contentEncoding: string | null;
    correlationId: string | null;
    /** ISO time of the message's `timestamp` property. */
    timestamp: string | null;
    deliveryMode: number | null;
    redelivered: boolean;
  };
  /** Every header (AMQP tables as JSON; byte arrays as text), each value clipped to 4 KiB. */
  headers: Record<string, unknown>;
  /** The body as text (UTF-8), at most 64 KiB. */
  payload: string;
  payloadBytes: number;
  payloadTruncated: boolean;
}

/**
 * Finds the first message of the queue whose message id is `id` and
 * describes it in full, leaving the queue as it was (every message read is
 * held unacked and given back when the channel closes, as `dlq list` does).
 * `undefined` when no message has that id.
 */
export async function readDeadLetter(broker: DlqBroker, queue: string, id: string, signal?: AbortSignal): Promise<DeadLetterDetail | undefined> {
  const depth = await broker.depth(queue);
  const channel = await broker.openChannel(queue);
  try {
    for (let position = 0; position < depth && signal?.aborted !== true; position++) {
      const message = await channel.take(queue);
      if (message === false) break;
      if (message.properties.messageId === id) return toDetail(message, position);
    }
    return undefined;
  } finally {
    await channel.close();
  }
}

/** Pure: an AMQP message → its full, bounded description. */
export function toDetail(message: HeldMessage, position: number): DeadLetterDetail {
  const view = describeDeadLetter(message);
  const { properties } = message;
  const body = message.content;
  const payloadTruncated = body.length > MAX_PAYLOAD_BYTES;
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(properties.headers ?? {}).slice(0, MAX_HEADERS)) headers[clipText(name, FIELD_BYTES.id)] = boundedValue(value);
  return {
    ...view,
    position,
    properties: {
      contentType: stringOrNull(properties.contentType),
      contentEncoding: stringOrNull(properties.contentEncoding),
      correlationId: stringOrNull(properties.correlationId),
      timestamp: typeof properties.timestamp === 'number' ? new Date(properties.timestamp * 1000).toISOString() : null,
      deliveryMode: typeof properties.deliveryMode === 'number' ? properties.deliveryMode : null,
      redelivered: message.fields.redelivered,
    },
    headers,
    // A cut inside a multi-byte character becomes U+FFFD: the text stays valid.
    payload: body.subarray(0, MAX_PAYLOAD_BYTES).toString('utf8'),
    payloadBytes: body.length,
    payloadTruncated,
  };
}

/** A header value as JSON can carry it, clipped: byte arrays as text, tables and arrays whole when small, else their text clipped. */
function boundedValue(value: unknown): unknown {
  const plain = Buffer.isBuffer(value) ? value.toString('utf8') : value instanceof Date ? value.toISOString() : value;
  if (typeof plain === 'string') return clipText(plain, MAX_HEADER_VALUE_BYTES);
  if (plain === null || typeof plain === 'number' || typeof plain === 'boolean' || plain === undefined) return plain ?? null;
  // Buffer.toJSON runs before a replacer: its {type, data} form is turned back into text here.
  const text = JSON.stringify(plain, (_key, inner: unknown) => (isBufferJson(inner) ? Buffer.from(inner.data).toString('utf8') : typeof inner === 'bigint' ? String(inner) : inner));
  return Buffer.byteLength(text) <= MAX_HEADER_VALUE_BYTES ? (JSON.parse(text) as unknown) : clipText(text, MAX_HEADER_VALUE_BYTES);
}

function isBufferJson(value: unknown): value is { type: 'Buffer'; data: number[] } {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
