import { context } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { InvalidJobOptionError, InvalidJobPayloadError, PrecedingJobFailedError, UnknownJobTypeError } from '../client/errors.ts';
import { ID_MAX_LENGTH } from '../client/job-message.ts';
import type { JobType } from '../client/job-types.ts';
import type { JobPublisher, JobSender } from '../client/sender.ts';
import type { EnqueueOptions } from '../client/types.ts';
import { ApiError, errorBody, toApiError } from './http-errors.ts';
import { jsonBody, requireJsonContent } from './json-body.ts';
import type { ProducerMetrics } from './metrics.ts';
import type { Caller } from './auth.ts';
import type { SendContext } from '../client/sender.ts';
import { httpHeaderGetter } from '../tracing/carrier.ts';
import { continueFrom } from '../tracing/spans.ts';

/**
 * `POST /v1/jobs/:jobType` and `POST /v1/jobs/:jobType/batch`: a thin HTTP
 * layer over the job client's `JobSender`. The routes read the body and the
 * headers, the sender validates, builds and publishes exactly as
 * `createJobClient().enqueue` does, and `enqueueApiError` turns its typed
 * errors into statuses. The job client and these routes answer one input
 * alike (test/integration/enqueue-contract.test.ts).
 */
export interface JobRoutesOptions {
  sender: JobSender;
  bodyLimit: string;
  maxBatchItems: number;
  /** Auth for the enqueue routes. */
  guard: RequestHandler;
}

/** One entry of a batch response. */
export type BatchItemResult =
  | { index: number; status: 202; id: string }
  | { index: number; status: number; id?: string; error: { code: string; message: string; details: unknown } };

export function jobRoutes(options: JobRoutesOptions): Router {
  const router = express.Router();
  // Auth first: an anonymous client cannot make the server read a body;
  // an unknown job type is a 404 before the body is read.
  const before = [options.guard, findJobType(options.sender), requireJsonContent, jsonBody({ limit: options.bodyLimit })];
  router.post('/v1/jobs/:jobType', ...before, enqueueOne(options));
  router.post('/v1/jobs/:jobType/batch', ...before, enqueueBatch(options));
  return router;
}

function findJobType(sender: JobSender): RequestHandler {
  return (req, res, next) => {
    try {
      res.locals.jobType = sender.jobType(String(req.params.jobType));
    } catch (error) {
      throw enqueueApiError(error);
    }
    next();
  };
}

function enqueueOne(options: JobRoutesOptions): RequestHandler {
  return async (req, res) => {
    const jobType = res.locals.jobType as JobType;
    const job = await context.with(traceOf(req), () => options.sender.enqueue(jobType.type, req.body, enqueueOptionsOf(req), senderOf(res))).catch((error: unknown) => {
      throw enqueueApiError(error);
    });
    res.status(202).json(job);
  };
}

function enqueueBatch(options: JobRoutesOptions): RequestHandler {
  return async (req, res) => {
    const jobType = res.locals.jobType as JobType;
    const items = checkBatch(req.body, options.maxBatchItems);
    const batch = await context.with(traceOf(req), () => options.sender.enqueueMany(jobType.type, items, enqueueOptionsOf(req), senderOf(res))).catch((error: unknown) => {
      throw enqueueApiError(error);
    });
    const results = batchResults(batch);
    res.status(batch.accepted === results.length ? 202 : 207).json({ accepted: batch.accepted, results });
  };
}

/** The caller's token fingerprint, kept in the job history so that an enqueue token can read back its own jobs. */
function senderOf(res: Response): SendContext {
  return { submittedBy: (res.locals.caller as Caller | undefined)?.token };
}

/** A batch body's items, or the 400/413 that refuses it. */
export function checkBatch(body: unknown, maxBatchItems: number): unknown[] {
  if (!Array.isArray(body) || body.length === 0) {
    throw new ApiError(400, 'INVALID_BATCH', 'the body must be a non-empty JSON array of payloads');
  }
  if (body.length > maxBatchItems) {
    throw new ApiError(413, 'BATCH_TOO_LARGE', `a batch holds at most ${maxBatchItems} items`, { maxItems: maxBatchItems, items: body.length });
  }
  return body;
}

/** One answer entry per item of an `enqueueMany`. */
export function batchResults(batch: Awaited<ReturnType<JobSender['enqueueMany']>>): BatchItemResult[] {
  return batch.results.map((item): BatchItemResult => {
    if (item.ok) return { index: item.index, status: 202, id: item.id };
    const apiError = enqueueApiError(item.error, MAX_ISSUES.batchItem);
    return { index: item.index, status: apiError.status, ...(item.id !== undefined && { id: item.id }), ...errorBody(apiError) };
  });
}

/**
 * The trace the request belongs to: the active span of the user's HTTP
 * instrumentation when there is one, else the request's own `traceparent`
 * (W3C), so a client's trace goes on through the publish to every consumer.
 */
function traceOf(req: Request) {
  return continueFrom(req.headers, httpHeaderGetter);
}

/**
 * The enqueue options a request carries in its headers, as sent (the sender
 * checks them): `Idempotency-Key`, `X-Correlation-Id`, and for jobs for
 * later `X-Delay` (ms, or a duration such as `30s`), `X-Run-At` (ISO 8601
 * with a zone) and `X-Priority`. Headers, not body fields: the body is the
 * payload, exactly as the job type's schema describes it.
 */
export function enqueueOptionsOf(req: IncomingMessage): EnqueueOptions {
  const delay = req.headers['x-delay'] as string | undefined;
  const runAt = req.headers['x-run-at'] as string | undefined;
  const priority = req.headers['x-priority'] as string | undefined;
  return {
    idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    correlationId: req.headers['x-correlation-id'] as string | undefined,
    ...(delay !== undefined && { delay: /^\d{1,16}$/.test(delay) ? Number(delay) : delay }),
    ...(runAt !== undefined && { runAt }),
    ...(priority !== undefined && { priority: priority as unknown as number }),
  };
}

/**
 * Most schema issues reported per payload (fewer per batch item, a batch
 * has up to a thousand), and the longest message: an error answer stays a
 * few kilobytes per payload whatever the body.
 */
const MAX_ISSUES = { job: 20, batchItem: 5 } as const;
const MAX_ISSUE_MESSAGE = 300;

const HEADER_OF: Record<string, string> = {
  idempotencyKey: 'Idempotency-Key',
  correlationId: 'X-Correlation-Id',
  delay: 'X-Delay',
  runAt: 'X-Run-At',
  priority: 'X-Priority',
};

/** What an enqueue failure (the job client's typed errors, the broker's) answers over HTTP. */
export function enqueueApiError(error: unknown, maxIssues: number = MAX_ISSUES.job): ApiError {
  if (error instanceof UnknownJobTypeError) {
    return new ApiError(404, error.code, error.message, { known: error.known });
  }
  if (error instanceof InvalidJobPayloadError) {
    const details = error.issues.slice(0, maxIssues).map((issue) => ({
      path: issue.path,
      message: issue.message.length > MAX_ISSUE_MESSAGE ? `${issue.message.slice(0, MAX_ISSUE_MESSAGE)}…` : issue.message,
    }));
    const more = error.issues.length > maxIssues ? ` (first ${maxIssues} of ${error.issues.length} issues)` : '';
    return new ApiError(400, error.code, `${error.message}${more}`, details);
  }
  if (error instanceof InvalidJobOptionError) {
    const header = HEADER_OF[error.option] ?? error.option;
    if (error.option === 'delay' || error.option === 'runAt' || error.option === 'priority') {
      return new ApiError(400, 'INVALID_HEADER', `${header}: ${error.message}`, { header });
    }
    return new ApiError(400, 'INVALID_HEADER', `${header} must be 1 to ${ID_MAX_LENGTH} visible ASCII characters`, {
      header,
      maxLength: ID_MAX_LENGTH,
    });
  }
  if (error instanceof PrecedingJobFailedError) {
    return new ApiError(424, error.code, error.message, { precedingIndex: error.precedingIndex });
  }
  return toApiError(error);
}

/** The producer's publisher, timing every publish for `warren_producer_publish_seconds`. */
export function timedPublisher(publisher: JobPublisher, metrics: ProducerMetrics): JobPublisher {
  return {
    unavailable: () => publisher.unavailable(),
    async publish(message: OutgoingMessage) {
      const stop = metrics.publishSeconds.startTimer();
      try {
        await publisher.publish(message);
        stop({ outcome: 'confirmed' });
      } catch (error) {
        stop({ outcome: toApiError(error).code.toLowerCase() });
        throw error;
      }
    },
  };
}
