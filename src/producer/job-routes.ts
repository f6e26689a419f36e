import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { z } from 'zod';
import type { ConfirmPublisher, OutgoingMessage } from '../broker/confirm-publisher.ts';
import { ApiError, errorBody, toApiError } from './http-errors.ts';
import { batchItemId, buildJobMessage, ID_HEADER_MAX, idHeader } from './job-message.ts';
import { InvalidOrderingKeyError, orderingKeyOf, type JobType } from './job-types.ts';
import { jsonBody, requireJsonContent } from './json-body.ts';
import type { ProducerMetrics } from './metrics.ts';

export interface JobRoutesOptions {
  jobTypes: ReadonlyMap<string, JobType>;
  publisher: ConfirmPublisher;
  metrics: ProducerMetrics;
  bodyLimit: string;
  maxBatchItems: number;
  /** Auth for the enqueue routes. */
  guard: RequestHandler;
}

/** One entry of a batch response. */
export type BatchItemResult =
  | { index: number; status: 202; id: string }
  | { index: number; status: number; id?: string; error: { code: string; message: string; details: unknown } };

/** `POST /v1/jobs/:jobType` and `POST /v1/jobs/:jobType/batch`. */
export function jobRoutes(options: JobRoutesOptions): Router {
  const router = express.Router();
  // Auth first: an anonymous client cannot make the server read a body.
  const before = [options.guard, findJobType(options.jobTypes), requireJsonContent, jsonBody({ limit: options.bodyLimit })];
  router.post('/v1/jobs/:jobType', ...before, enqueueOne(options));
  router.post('/v1/jobs/:jobType/batch', ...before, enqueueBatch(options));
  return router;
}

function findJobType(jobTypes: ReadonlyMap<string, JobType>): RequestHandler {
  return (req, res, next) => {
    const jobType = jobTypes.get(String(req.params.jobType));
    if (jobType === undefined) {
      throw new ApiError(404, 'UNKNOWN_JOB_TYPE', `no job type "${String(req.params.jobType)}"`, {
        known: [...jobTypes.keys()],
      });
    }
    res.locals.jobType = jobType;
    next();
  };
}

function enqueueOne(options: JobRoutesOptions): RequestHandler {
  return async (req, res) => {
    const jobType = res.locals.jobType as JobType;
    const key = idHeader(req.headers['idempotency-key']);
    if (key === null) throw invalidHeader('Idempotency-Key');
    const message = prepare(jobType, req.body, key ?? randomUUID(), correlationIdOf(req), new Date(), MAX_ISSUES.job);
    await publishTimed(options, message);
    res.status(202).json({ id: message.options.messageId, jobType: jobType.type, routingKey: jobType.routingKey });
  };
}

function enqueueBatch(options: JobRoutesOptions): RequestHandler {
  return async (req, res) => {
    const jobType = res.locals.jobType as JobType;
    const items: unknown = req.body;
    const key = idHeader(req.headers['idempotency-key']);
    if (key === null) throw invalidHeader('Idempotency-Key');
    if (!Array.isArray(items) || items.length === 0) {
      throw new ApiError(400, 'INVALID_BATCH', 'the body must be a non-empty JSON array of payloads');
    }
    if (items.length > options.maxBatchItems) {
      throw new ApiError(413, 'BATCH_TOO_LARGE', `a batch holds at most ${options.maxBatchItems} items`, {
        maxItems: options.maxBatchItems,
        items: items.length,
      });
    }
    // Nothing can be confirmed now: answer 503 for the whole batch at once.
    const unavailable = options.publisher.unavailable();
    if (unavailable !== undefined) throw unavailable;
    const results = await publishBatch(options, jobType, items, key, correlationIdOf(req), new Date());
    const allAccepted = results.every((result) => result.status === 202);
    res.status(allAccepted ? 202 : 207).json({ accepted: results.filter((r) => r.status === 202).length, results });
  };
}

/** Validates every item, then publishes the valid ones pipelined (all in flight at once). */
async function publishBatch(
  options: JobRoutesOptions,
  jobType: JobType,
  items: unknown[],
  key: string | undefined,
  correlationId: string | undefined,
  now: Date,
): Promise<BatchItemResult[]> {
  const pending = items.map(async (item, index): Promise<BatchItemResult> => {
    const id = key === undefined ? randomUUID() : batchItemId(key, index);
    try {
      await publishTimed(options, prepare(jobType, item, id, correlationId, now, MAX_ISSUES.batchItem));
      return { index, status: 202, id };
    } catch (error) {
      const apiError = toApiError(error);
      return { index, status: apiError.status, id, ...errorBody(apiError) };
    }
  });
  return Promise.all(pending);
}

/** Validate → ordering key → message; throws a 400 `ApiError` for a bad payload. */
function prepare(
  jobType: JobType,
  payload: unknown,
  id: string,
  correlationId: string | undefined,
  now: Date,
  maxIssues: number,
): OutgoingMessage {
  const parsed = jobType.validator.safeParse(payload);
  if (!parsed.success) throw invalidPayload(parsed.error.issues, maxIssues);
  let orderingKey: string | undefined;
  try {
    orderingKey = orderingKeyOf(jobType, payload);
  } catch (error) {
    if (!(error instanceof InvalidOrderingKeyError)) throw error;
    throw new ApiError(400, 'INVALID_PAYLOAD', error.message, [{ path: error.path.split('.'), message: error.message }]);
  }
  return buildJobMessage({ jobType, payload, id, orderingKey, correlationId, now });
}

async function publishTimed(options: JobRoutesOptions, message: OutgoingMessage): Promise<void> {
  const stop = options.metrics.publishSeconds.startTimer();
  try {
    await options.publisher.publish(message);
    stop({ outcome: 'confirmed' });
  } catch (error) {
    stop({ outcome: toApiError(error).code.toLowerCase() });
    throw error;
  }
}

/**
 * Most schema issues reported per payload (fewer per batch item, a batch
 * has up to a thousand), and the longest message: an error answer stays a
 * few kilobytes per payload whatever the body.
 */
const MAX_ISSUES = { job: 20, batchItem: 5 } as const;
const MAX_ISSUE_MESSAGE = 300;

function invalidPayload(issues: readonly z.core.$ZodIssue[], maxIssues: number): ApiError {
  const details = issues.slice(0, maxIssues).map((issue) => ({
    path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: issue.message.length > MAX_ISSUE_MESSAGE ? `${issue.message.slice(0, MAX_ISSUE_MESSAGE)}…` : issue.message,
  }));
  const more = issues.length > maxIssues ? ` (first ${maxIssues} of ${issues.length} issues)` : '';
  return new ApiError(400, 'INVALID_PAYLOAD', `the payload does not match the job type schema${more}`, details);
}

function invalidHeader(name: string): ApiError {
  return new ApiError(400, 'INVALID_HEADER', `${name} must be 1 to ${ID_HEADER_MAX} visible ASCII characters`, { header: name, maxLength: ID_HEADER_MAX });
}

function correlationIdOf(req: Request): string | undefined {
  const value = idHeader(req.headers['x-correlation-id']);
  if (value === null) throw invalidHeader('X-Correlation-Id');
  return value;
}
