import { DlqInputError } from './errors.ts';

/**
 * Pure: the size limits of everything a DLQ command shows, so that no query
 * — however it is written, over however many dead letters — produces an
 * unbounded answer. Every list is a page of at most `MAX_PAGE_SIZE` items,
 * and every text in a list is clipped to a fixed number of JSON bytes, which
 * together bound a whole response (`MAX_LIST_RESPONSE_BYTES`; a unit test
 * builds the worst case and checks it).
 */

/** Items in one page of messages, groups, or a dry run's selection. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/**
 * Distinct (job type, error) groups counted separately in one pass; beyond
 * it, further distinct pairs are counted together in one overflow group, so
 * a DLQ of a million distinct errors costs bounded memory.
 */
export const MAX_GROUPS = 10_000;

/** Largest JSON text of one list field, in UTF-8 bytes including its quotes. */
export const FIELD_BYTES = {
  id: 160,
  jobType: 160,
  errorClass: 160,
  /** Of one listed message's error message. */
  errorMessage: 400,
  /** Of a group's error message (the grouping key is clipped the same way). */
  groupErrorMessage: 300,
  exchange: 260,
  routingKey: 260,
  payloadPreview: 260,
  /** Of a failure reason in a replay summary. */
  reason: 300,
} as const;

/** Failures listed one by one in a replay summary (all are counted, by reason too). */
export const MAX_LISTED_FAILURES = 100;
/** Distinct failure reasons counted in a replay summary. */
export const MAX_FAILURE_REASONS = 20;

/**
 * Every DLQ list response — `GET /v1/dlq/<queue>`, `dlq list --json`, and the
 * replay / purge summaries with their dry-run page — is at most this many
 * bytes of JSON.
 */
export const MAX_LIST_RESPONSE_BYTES = 256 * 1024;

/** Largest offset a page may start at (more than any queue a pass can read). */
export const MAX_OFFSET = 1_000_000_000;

const ELLIPSIS = '…';
const ELLIPSIS_BYTES = 3;

/**
 * `text`, cut on a code point boundary (with "…" when cut) so that its JSON
 * form — quotes and escapes included — is at most `maxJsonBytes` UTF-8 bytes.
 */
export function clipText(text: string, maxJsonBytes: number): string {
  // Fast path: no character needs more than 6 bytes in JSON (\u00XX, or a 4-byte pair as 2 UTF-16 units).
  if (text.length * 6 + 2 <= maxJsonBytes) return text;
  // Every UTF-16 unit costs at least one byte, so a longer text never fits: only short ones are measured whole.
  if (text.length + 2 <= maxJsonBytes && jsonBytes(text) <= maxJsonBytes) return text;
  const budget = maxJsonBytes - 2 - ELLIPSIS_BYTES;
  let used = 0;
  let end = 0;
  for (const char of text) {
    const size = jsonCharBytes(char);
    if (used + size > budget) break;
    used += size;
    end += char.length;
  }
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

/** UTF-8 bytes of `JSON.stringify(text)`. */
export function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text));
}

function jsonCharBytes(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  if (char === '"' || char === '\\' || char === '\b' || char === '\f' || char === '\n' || char === '\r' || char === '\t') return 2;
  if (code < 0x20) return 6;
  // Lone surrogates are escaped by JSON.stringify (\udXXX).
  if (code >= 0xd800 && code <= 0xdfff) return 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code < 0x10000) return 3;
  return 4;
}

export interface Page {
  offset: number;
  limit: number;
}

/**
 * A page from user input (`--limit`, `?limit=`, `listLimit`…): whole numbers,
 * `limit` at most `MAX_PAGE_SIZE`. Anything else is an input error, never
 * silently clamped, so a client asking for "everything" learns it cannot.
 */
export function parsePage(input: { offset?: string | number | undefined; limit?: string | number | undefined }, names: { offset: string; limit: string }): Page {
  const limit = wholeNumber(input.limit, names.limit, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE;
  const offset = wholeNumber(input.offset, names.offset, MAX_OFFSET) ?? 0;
  return { offset, limit };
}

function wholeNumber(value: string | number | undefined, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === 'number' ? value : /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isInteger(number) || number < 0 || number > max) {
    throw new DlqInputError(`bad ${name} "${clipText(String(value), 40)}": expected a whole number from 0 to ${max}`);
  }
  return number;
}
