import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError, sendApiError } from './http-errors.ts';

/** `enqueue` may post jobs and read job types; `admin` may do everything. */
export type Scope = 'enqueue' | 'admin';

interface TokenEntry {
  digest: Buffer;
  scope: Scope;
}

/** Tokens of `.env.example` start with this; a server refuses to run with one. */
export const PLACEHOLDER_TOKEN_PREFIX = 'change-me';

/**
 * `WARREN_API_TOKENS` → token digests. Entries are `token:scope`, comma
 * separated (split on the last colon, so a token may contain one). A bad
 * entry, or one still holding the `.env.example` placeholder, throws without
 * echoing the token.
 */
export function parseApiTokens(value: string | undefined): TokenEntry[] {
  if (value === undefined || value.trim() === '') return [];
  return value.split(',').map((raw, index) => {
    const entry = raw.trim();
    const colon = entry.lastIndexOf(':');
    const token = colon > 0 ? entry.slice(0, colon) : '';
    const scope = colon > 0 ? entry.slice(colon + 1) : '';
    if (token === '' || (scope !== 'enqueue' && scope !== 'admin')) {
      throw new Error(`WARREN_API_TOKENS entry ${index + 1} must be "token:enqueue" or "token:admin"`);
    }
    if (token.toLowerCase().startsWith(PLACEHOLDER_TOKEN_PREFIX)) {
      throw new Error(`WARREN_API_TOKENS entry ${index + 1} is the placeholder of .env.example: replace it with a secret of your own (e.g. openssl rand -hex 32)`);
    }
    return { digest: digest(token), scope };
  });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The scope of a presented token, comparing against every entry in constant time. */
export function scopeOf(entries: readonly TokenEntry[], presented: string): Scope | undefined {
  // Equal-length digests make timingSafeEqual applicable and hide the token length.
  const candidate = digest(presented);
  let found: Scope | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.digest, candidate) && found !== 'admin') found = entry.scope;
  }
  return found;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Pure: why a request with this `Authorization` header may not use `scope`
 * (401 or 403), or undefined when it may. Without tokens every request may,
 * which only an `insecure` producer allows.
 */
export function authorizationError(entries: readonly TokenEntry[], scope: Scope, authorization: string | undefined): ApiError | undefined {
  if (entries.length === 0) return undefined;
  const match = BEARER.exec(authorization ?? '');
  const granted = match?.[1] === undefined ? undefined : scopeOf(entries, match[1]);
  if (granted === undefined) return new ApiError(401, 'UNAUTHORIZED', 'a valid bearer token is required');
  if (scope === 'admin' && granted !== 'admin') return new ApiError(403, 'FORBIDDEN', 'this route needs a token with the admin scope');
  return undefined;
}

/** Who a request is, as `requireScope` found it (in `res.locals.caller`); absent on an insecure producer (no tokens). */
export interface Caller {
  scope: Scope;
  /** A fingerprint of the token (16 hex digits of its SHA-256), recorded with the jobs it enqueues; never the token. */
  token: string;
}

/** The token's fingerprint: what the job history keeps to let an enqueue token read back its own jobs. */
export function tokenFingerprint(token: string): string {
  return digest(token).subarray(0, 8).toString('hex');
}

/** Pure: the caller a valid `Authorization` header names, or undefined (no tokens configured, or not a valid token). */
export function callerOf(entries: readonly TokenEntry[], authorization: string | undefined): Caller | undefined {
  if (entries.length === 0) return undefined;
  const token = BEARER.exec(authorization ?? '')?.[1];
  const scope = token === undefined ? undefined : scopeOf(entries, token);
  return token === undefined || scope === undefined ? undefined : { scope, token: tokenFingerprint(token) };
}

/** A 401 asks for a bearer token (RFC 6750). */
export const CHALLENGE = { 'WWW-Authenticate': 'Bearer' } as const;

/** Express middleware requiring `scope` (see `authorizationError`). */
export function requireScope(entries: readonly TokenEntry[], scope: Scope, retryAfterSeconds: number): RequestHandler {
  if (entries.length === 0) return (_req, _res, next) => next();
  return (req, res, next) => {
    const refused = authorizationError(entries, scope, req.headers.authorization);
    if (refused === undefined) {
      // For the job history: whose jobs an enqueue token enqueues and may read back.
      res.locals.caller = callerOf(entries, req.headers.authorization);
      next();
      return;
    }
    if (refused.status === 401) res.set(CHALLENGE);
    sendApiError(res, refused, retryAfterSeconds);
  };
}
