import type { ErrorRequestHandler, Response } from 'express';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../errors.ts';
import { redactText } from '../broker/urls.ts';

/**
 * The one error shape of every response: `{error: {code, message, details}}`.
 * `ApiError` carries a status; broker errors map to theirs in `toApiError`,
 * and anything unexpected becomes a bare 500 whose text never leaves the
 * process (it is logged, redacted, without a stack in the response).
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
  if (error instanceof BrokerUnavailableError) return new ApiError(503, error.code, redactText(error.message));
  // A nack: typically a queue at max-length with reject-publish; it may take jobs again later.
  if (error instanceof PublishRejectedError) return new ApiError(503, error.code, error.message);
  return new ApiError(500, 'INTERNAL', 'internal error');
}

/** body-parser's failures, by their `type`, in our shape. */
function fromBodyParser(error: { type?: unknown; status?: unknown; message?: unknown }): ApiError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'the request body exceeds the size limit');
    case 'entity.parse.failed':
      return new ApiError(400, 'BAD_JSON', 'the request body is not valid JSON');
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
