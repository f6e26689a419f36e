import type { IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import parseBytes from 'bytes';
import type { JobSender } from '../client/sender.ts';
import type { Logger } from '../log.ts';
import { httpHeaderGetter } from '../tracing/carrier.ts';
import { continueFrom } from '../tracing/spans.ts';
import { authorizationError, callerOf, CHALLENGE, type parseApiTokens } from './auth.ts';
import { ApiError, describeUnexpected, errorBody, refusal, requestIdOf, scrubbedForServerError } from './http-errors.ts';
import { batchResults, checkBatch, enqueueApiError, enqueueOptionsOf } from './job-routes.ts';
import { checkJsonBytes, isJsonContentType } from './json-body.ts';
import type { ProducerMetrics } from './metrics.ts';

/**
 * The two enqueue routes — `POST /v1/jobs/{type}` and `.../batch` — served
 * in front of express. Profiles of the producer under load showed the cost
 * of a job spread over express's routing and the generic middleware every
 * request passes (helmet, pino-http, body-parser, the counters), with no
 * frame standing out: the only way to make an enqueue cost little more than
 * its publish was to not run that stack for it. This handler does what an
 * enqueue needs and nothing else: request id, the same security headers,
 * auth, the job type, the content rule, one bounded read, one parse, the job
 * client's sender, one answer.
 *
 * It answers exactly as the express routes would (same statuses, error
 * bodies and headers: test/integration/security.test.ts and
 * enqueue-contract.test.ts run through it), reusing their pieces. Anything
 * unusual — a compressed body — falls through to express, which keeps the
 * full behaviour. Successful enqueues are logged at debug level only (a
 * counter keeps every answer); refusals at warn, failures at error.
 */
export interface EnqueueFastPathOptions {
  sender: JobSender;
  tokens: ReturnType<typeof parseApiTokens>;
  bodyLimit: string;
  maxBatchItems: number;
  retryAfterSeconds: number;
  metrics: ProducerMetrics;
  logger: Logger;
  /** Headers every response carries (helmet's, captured once by the app). */
  securityHeaders: Readonly<Record<string, string>>;
  /** The insecure-on-loopback Host rule, when it applies (see app.ts). */
  hostAllowed?: (host: string | undefined) => boolean;
}

/** Returns true when it took the request; false leaves it to express. */
export type RequestTaker = (req: IncomingMessage, res: ServerResponse) => boolean;

const PREFIX = '/v1/jobs/';
const BATCH = '/batch';
const ROUTE = { one: '/v1/jobs/:jobType', batch: '/v1/jobs/:jobType/batch' } as const;
const JSON_CONTENT = 'application/json; charset=utf-8';
/** What body-parser's strict JSON mode accepts first: an object or an array. */
const STRICT_START = /^[\x20\x09\x0a\x0d]*[{[]/;
const BOM = [0xef, 0xbb, 0xbf] as const;

/** Pure: which enqueue route `url` names, with its job type (still percent-encoded), or undefined. */
export function matchEnqueueRoute(method: string | undefined, url: string | undefined): { route: keyof typeof ROUTE; jobType: string } | undefined {
  if (method !== 'POST' || url === undefined || !url.startsWith(PREFIX)) return undefined;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  let rest = path.slice(PREFIX.length);
  let route: keyof typeof ROUTE = 'one';
  if (rest.endsWith(BATCH)) {
    rest = rest.slice(0, -BATCH.length);
    route = 'batch';
  }
  // One non-empty segment (express's `:jobType`); anything else is express's 404.
  if (rest === '' || rest.includes('/')) return undefined;
  return { route, jobType: rest };
}

export function enqueueFastPath(options: EnqueueFastPathOptions): RequestTaker {
  const limit = parseBytes.parse(options.bodyLimit);
  if (limit === null || !Number.isFinite(limit) || limit < 0) throw new RangeError(`bodyLimit: not a size: ${options.bodyLimit}`);
  const securityHeaders = Object.entries(options.securityHeaders);

  return (req, res) => {
    const match = matchEnqueueRoute(req.method, req.url);
    if (match === undefined) return false;
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    const jobTypeName = decodeSegment(match.jobType);
    if (jobTypeName === undefined) return false;

    const started = performance.now();
    const requestId = requestIdOf(req.headers['x-request-id']);
    for (const [name, value] of securityHeaders) res.setHeader(name, value);
    res.setHeader('X-Request-Id', requestId);

    const answer = (status: number, body: unknown, extra?: Readonly<Record<string, string>>): void => {
      const text = JSON.stringify(status >= 500 ? scrubbedForServerError(body) : body);
      if (extra !== undefined) for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
      res.writeHead(status, { 'Content-Type': JSON_CONTENT, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      options.metrics.requests.inc({ route: ROUTE[match.route], method: 'POST', status });
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'debug';
      if (options.logger.isLevelEnabled(level)) {
        options.logger[level]({ reqId: requestId, req: { method: 'POST', url: req.url }, res: { statusCode: status }, responseTime: Math.round(performance.now() - started) }, 'request completed');
      }
    };
    const refuse = (error: ApiError, extra?: Readonly<Record<string, string>>): void => {
      const headers = error.status === 503 ? { ...extra, 'Retry-After': String(options.retryAfterSeconds) } : extra;
      answer(error.status, errorBody(error), headers);
    };
    const fail = (error: unknown): void => {
      const apiError = error instanceof ApiError ? error : enqueueApiError(error);
      if (apiError.status === 500) options.logger.error({ error: describeUnexpected(error) }, 'unexpected error');
      refuse(apiError);
    };

    // The order of the express stack: Host rule, content rule, auth, job type, then the body.
    // A request answered before its body was read has it discarded by node once the answer is sent.
    if (options.hostAllowed !== undefined && !options.hostAllowed(req.headers.host)) {
      refuse(refusal.hostNotAllowed());
      return true;
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      refuse(refusal.unsupportedMediaType());
      return true;
    }
    const unauthorized = authorizationError(options.tokens, 'enqueue', req.headers.authorization);
    if (unauthorized !== undefined) {
      refuse(unauthorized, unauthorized.status === 401 ? CHALLENGE : undefined);
      return true;
    }
    try {
      options.sender.jobType(jobTypeName);
    } catch (error) {
      fail(error);
      return true;
    }
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared !== undefined && declared > limit) {
      refuse(refusal.payloadTooLarge());
      return true;
    }

    readBody(req, limit, (error, body) => {
      if (error !== undefined) {
        refuse(error);
        return;
      }
      let payload: unknown;
      try {
        payload = parseBody(body as Buffer);
      } catch (parseError) {
        fail(parseError);
        return;
      }
      const ids = enqueueOptionsOf(req);
      const trace = continueFrom(req.headers, httpHeaderGetter);
      // Who enqueued, for the job history only (a second token digest otherwise spared).
      const from = options.sender.recordsHistory ? { submittedBy: callerOf(options.tokens, req.headers.authorization)?.token } : undefined;
      if (match.route === 'one') {
        context
          .with(trace, () => options.sender.enqueue(jobTypeName, payload, ids, from))
          .then((job) => answer(202, job), fail);
        return;
      }
      let items: unknown[];
      try {
        items = checkBatch(payload, options.maxBatchItems);
      } catch (batchError) {
        fail(batchError);
        return;
      }
      context
        .with(trace, () => options.sender.enqueueMany(jobTypeName, items, ids, from))
        .then((batch) => {
          const results = batchResults(batch);
          answer(batch.accepted === results.length ? 202 : 207, { accepted: batch.accepted, results });
        }, fail);
    });
    return true;
  };
}

/** The body's bytes, at most `limit` (413 past it), or the request's failure. */
function readBody(req: IncomingMessage, limit: number, done: (error: ApiError | undefined, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let length = 0;
  let settled = false;
  const finish = (error: ApiError | undefined, body?: Buffer): void => {
    if (settled) return;
    settled = true;
    done(error, body);
  };
  req.on('data', (chunk: Buffer) => {
    if (settled) return;
    length += chunk.length;
    if (length > limit) {
      finish(refusal.payloadTooLarge());
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)));
  req.on('error', () => finish(new ApiError(400, 'BAD_REQUEST', 'the request body could not be read')));
}

/**
 * What `jsonBody` (express.json in strict mode with our checks) makes of the
 * bytes: the UTF-8 and depth checks first, then the parse; an empty body is
 * `{}`, a leading BOM is dropped, a top level other than an object or an
 * array is a syntax error.
 */
export function parseBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return {};
  checkJsonBytes(bytes);
  const start = bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2] ? 3 : 0;
  const text = bytes.toString('utf8', start);
  if (!STRICT_START.test(text)) throw refusal.badJson();
  try {
    return JSON.parse(text);
  } catch {
    throw refusal.badJson();
  }
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // express answers a malformed escape itself
  }
}

