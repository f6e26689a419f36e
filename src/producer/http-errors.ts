import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { redactText } from '../broker/urls.ts';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError, WarrenError } from '../errors.ts';

/**
 * The one error shape of every response: `{error: {code, message, details}}`.
 * `ApiError` carries a status; broker errors map to theirs in `toApiError`,
 * and anything unexpected becomes a bare 500 whose text never leaves the
 * process (it is logged, redacted, without a stack in the response). A 5xx
 * body names the failure, never where it happened: no host, port or URL
 * (`withoutAddresses`, applied to every 5xx the app sends).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details: unknown };
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message, details: error.details } };
}

/** Statuses after which a client should retry later, with `Retry-After`. */
const RETRY_LATER = 503;

export function sendApiError(res: Response, error: ApiError, retryAfterSeconds: number): void {
  if (error.status === RETRY_LATER) res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(error.status).json(errorBody(error));
}

/** A publish failure as the client sees it. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof UnroutableError) return new ApiError(502, error.code, error.message);
  if (error instanceof BrokerUnavailableError) return new ApiError(503, error.code, withoutAddresses(error.message));
  // A nack: typically a queue at max-length with reject-publish; it may take jobs again later.
  if (error instanceof PublishRejectedError) return new ApiError(503, error.code, error.message);
  return new ApiError(500, 'INTERNAL', 'internal error');
}

/**
 * A failure of the management API as a client sees it: which service failed,
 * not where it is (the management client's own message names its URL).
 */
export function managementApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof BrokerUnavailableError) return new ApiError(503, 'MANAGEMENT_API_UNREACHABLE', 'management API unreachable');
  if (error instanceof WarrenError && error.code === 'MANAGEMENT_API') {
    return new ApiError(502, 'MANAGEMENT_API_ERROR', 'the management API answered with an error');
  }
  return toApiError(error);
}

const ADDRESS_PATTERNS: readonly RegExp[] = [
  // Any URL, credentials or not.
  /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi,
  // IPv6, bracketed or bare (at least two colons), with an optional port.
  /\[[0-9a-f:.]*\](?::\d+)?/gi,
  /(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?::\d+)?(?![\w:])/gi,
  // IPv4 with an optional port; name:port.
  /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g,
  /\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*:\d{2,5}\b/gi,
];

/** Pure: `text` with every URL, IP address and `host:port` replaced by `<address>`. */
export function withoutAddresses(text: string): string {
  return ADDRESS_PATTERNS.reduce((result, pattern) => result.replace(pattern, '<address>'), text);
}

/** Pure: a 5xx body with every string in it passed through `withoutAddresses`. */
export function scrubbedForServerError(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return withoutAddresses(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrubbedForServerError(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubbedForServerError(item, depth + 1)]));
}

/** Class and redacted message only: stacks and broker URLs stay out of logs. */
export function describeUnexpected(error: unknown): { class: string; message: string } {
  return error instanceof Error
    ? { class: error.constructor.name, message: redactText(error.message) }
    : { class: typeof error, message: redactText(String(error)) };
}

/**
 * Every 5xx JSON body the app sends, whichever router wrote it, leaves
 * without addresses: the last line of defence behind explicit messages.
 */
export const scrubServerErrors: RequestHandler = (_req, res, next) => {
  const json = res.json.bind(res);
  res.json = (body: unknown) => json(res.statusCode >= 500 ? scrubbedForServerError(body) : body);
  next();
};

/**
 * The refusals both request paths give (the enqueue fast path and the
 * express stack): made in one place so the two cannot drift apart.
 */
export const refusal = {
  unsupportedMediaType: () => new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the request body must be JSON: content-type application/json (or +json), charset utf-8'),
  payloadTooLarge: () => new ApiError(413, 'PAYLOAD_TOO_LARGE', 'the request body exceeds the size limit'),
  badJson: () => new ApiError(400, 'BAD_JSON', 'the request body is not valid JSON'),
  hostNotAllowed: () => new ApiError(403, 'HOST_NOT_ALLOWED', 'an --insecure server on loopback answers only requests to localhost or 127.0.0.1'),
} as const;

const REQUEST_ID = /^[\w.:-]{1,100}$/;

/** The request's id: the client's `X-Request-Id` when it is short and plain, else a new UUID. */
export function requestIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** body-parser's failures, by their `type`, in our shape. */
function fromBodyParser(error: { type?: unknown; status?: unknown; message?: unknown }): ApiError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return refusal.payloadTooLarge();
    case 'entity.parse.failed':
      return refusal.badJson();
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported charset or content encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'stream.not.readable':
      return new ApiError(400, 'BAD_REQUEST', 'the request body could not be read');
    default:
      return typeof error.status === 'number' && error.status >= 400 && error.status < 500
        ? new ApiError(error.status, 'BAD_REQUEST', 'bad request')
        : undefined;
  }
}

/** The last middleware: every error, ours or express's, leaves in the one shape. */
export function errorHandler(options: {
  retryAfterSeconds: number;
  onUnexpected: (error: unknown) => void;
}): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known =
      error instanceof ApiError
        ? error
        : typeof error === 'object' && error !== null
          ? fromBodyParser(error as Record<string, unknown>)
          : undefined;
    const apiError = known ?? toApiError(error);
    if (apiError.status === 500) options.onUnexpected(error);
    sendApiError(res, apiError, options.retryAfterSeconds);
  };
}
