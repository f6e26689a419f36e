import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler } from 'express';
import { ApiError, refusal } from './http-errors.ts';

/**
 * The one content rule of the producer, for every route (the DLQ routes
 * included): a request that carries a body carries JSON, in UTF-8, at most
 * `limit` bytes and `maxDepth` levels deep. Anything else is refused before
 * a handler sees it, so no route can act on a body it did not parse — the
 * reason a cross-site form post to the replay route used to replay for real.
 */

/** `application/json` or any `application/…+json`, optionally `; charset=utf-8`. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/** Nesting depth past which a body is refused (400). Deep enough for any job payload a schema describes. */
export const MAX_JSON_DEPTH = 64;

/** Methods whose requests always have a body in this API; other methods are checked when they send one. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined || !JSON_TYPE.test(value)) return false;
  const charset = CHARSET.exec(value)?.[1]?.toLowerCase();
  // RFC 8259 §8.1: JSON exchanged between systems is UTF-8.
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

/** 415 for a POST/PUT/PATCH (or any request with a body) that is not JSON. Reads only the headers. */
export const requireJsonContent: RequestHandler = (req, _res, next) => {
  if (!BODY_METHODS.has(req.method) && !hasBody(req.headers)) {
    next();
    return;
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    throw refusal.unsupportedMediaType();
  }
  next();
};

/** A body of at least one byte is coming (chunked, or a non-zero length). */
function hasBody(headers: { 'transfer-encoding'?: string | undefined; 'content-length'?: string | undefined }): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = Number(headers['content-length'] ?? 0);
  return Number.isNaN(length) || length > 0;
}

/**
 * express.json with the bounds the rule needs: the raw bytes must be valid
 * UTF-8 (body-parser would silently replace bad bytes with U+FFFD) and nest
 * at most `maxDepth` deep (a 5,000-deep document parses, but re-serialising
 * it to publish overflowed the stack: a 500). Mount it after auth, so an
 * anonymous client cannot make the server parse anything.
 */
export function jsonBody(options: { limit: string; maxDepth?: number }): RequestHandler {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  return express.json({
    limit: options.limit,
    type: (req) => isJsonContentType(req.headers['content-type']),
    verify: (_req, _res, buffer) => checkJsonBytes(buffer, maxDepth),
  });
}

/** The bounds on a body's raw bytes, checked before parsing: valid UTF-8, at most `maxDepth` levels deep. Throws the 400. */
export function checkJsonBytes(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): void {
  if (!isUtf8(bytes)) throw new ApiError(400, 'INVALID_UTF8', 'the request body is not valid UTF-8');
  if (jsonDepthExceeds(bytes, maxDepth)) {
    throw new ApiError(400, 'JSON_TOO_DEEP', `the request body nests deeper than ${maxDepth} levels`, { maxDepth });
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Pure: does the JSON text in `bytes` open more than `maxDepth` arrays or
 * objects inside each other? One pass over the bytes, brackets inside
 * strings ignored; it runs before parsing, so malformed text is fine
 * (the parser reports that).
 */
export function jsonDepthExceeds(bytes: Uint8Array, maxDepth: number): boolean {
  // Every level needs its own opening byte.
  if (bytes.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
