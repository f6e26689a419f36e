import { OpenApiGeneratorV31, OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { BatchResult, ErrorResponse, Health, JobAccepted, JobHistoryResponse, JobSearchResponse, JobTypeList, QueueList, Readiness } from './api-schemas.ts';
import { SEARCH_MAX_LIMIT } from '../history/reader.ts';
import { CONSUMER_STATES } from '../history/state.ts';
import { SEARCH_DEFAULT_LIMIT } from './history-routes.ts';
import type { JobType } from '../client/job-types.ts';
import { registerEventTypes, registerStreamsRoute } from '../streams/event-openapi.ts';
import type { EventType } from '../streams/event-types.ts';

type Security = Record<string, string[]>[];

const json = (schema: z.ZodType, description: string): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
});

const errorResponses = (statuses: Record<number, string>): Record<number, ResponseConfig> =>
  Object.fromEntries(Object.entries(statuses).map(([status, text]) => [status, json(ErrorResponse, text)]));

const IdempotencyKey = z.string().min(1).max(200).optional();
const CorrelationId = z.string().min(1).max(200).optional();

/** `?limit&offset` of a list route with hard maximum `max` (also the default). */
const pageParameters = (max: number) =>
  z.object({
    limit: z.number().int().min(1).max(max).optional().describe(`Page size, at most ${max} (the default)`),
    offset: z.number().int().min(0).optional().describe('Index of the first item (default 0); a page with more after it has nextOffset'),
  });

const ENQUEUE_ERRORS = {
  400:
    'BAD_JSON (malformed), INVALID_UTF8, JSON_TOO_DEEP (nested deeper than 64), INVALID_PAYLOAD (a schema failure: details lists each issue path and message, ' +
    'at most 20; or an ordering key over 255 bytes) or INVALID_HEADER (Idempotency-Key or X-Correlation-Id not 1 to 200 visible ASCII characters; ' +
    'X-Delay, X-Run-At or X-Priority not valid for the job type: details.header names which)',
  401: 'Missing or unknown bearer token',
  403: 'The token lacks the needed scope (or, on an --insecure server bound to loopback, a Host that is not a loopback name)',
  404: 'Unknown job type',
  413: 'The body exceeds the size limit',
  415: 'The body is not JSON: content-type application/json or application/*+json, charset utf-8 if any',
  502: 'The broker returned the message as unroutable',
  503: 'Broker unreachable, blocked (alarm) or too many publishes in flight; see Retry-After',
};

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the server
 * uses: one enqueue and one batch path per job type, each with that job
 * type's payload schema as its request body.
 */
export function buildOpenApiDocument(
  jobTypes: Iterable<JobType>,
  options: {
    maxBatchItems: number;
    pageLimits: { jobs: { max: number }; queues: { max: number } };
    eventTypes?: Iterable<EventType>;
    /** The topology has streams: document `GET /v1/streams`. */
    streams?: boolean;
  },
): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  const security: Security = [{ [bearer.name]: [] }];
  const types = [...jobTypes];
  for (const jobType of types) registerJobType(registry, jobType, security, options.maxBatchItems);
  registerHistoryRoutes(registry, security, types.map((jobType) => jobType.type));
  registerEventTypes(registry, options.eventTypes ?? [], security, errorResponses({ ...ENQUEUE_ERRORS, 404: 'Unknown event type' }));
  if (options.streams === true) {
    registerStreamsRoute(
      registry,
      security,
      errorResponses({ 401: 'Missing or unknown bearer token', 403: 'The token lacks the needed scope', 503: 'The broker or PostgreSQL is unreachable' }),
    );
  }
  registerReadRoutes(registry, security, options.pageLimits);
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'warren producer',
      version: '0.1.0',
      description: 'Enqueue jobs on RabbitMQ. 202 means the broker confirmed the message as persisted and routed.',
    },
  });
  return document as unknown as Record<string, unknown>;
}

function registerJobType(registry: OpenAPIRegistry, jobType: JobType, security: Security, maxBatchItems: number): void {
  const headers = z.object({
    'idempotency-key': IdempotencyKey,
    'x-correlation-id': CorrelationId,
    // Only the headers a job type can use: a job type without delays or priorities does not list them.
    ...(jobType.delays && {
      'x-delay': z
        .string()
        .optional()
        .describe('Deliver the job this much later: ms, or a duration (500ms, 30s, 2h, 1d); up to 621 days, rounded up to 100 ms. Not with X-Run-At.'),
      'x-run-at': z
        .string()
        .optional()
        .describe('Deliver the job at this time: ISO 8601 with a zone, e.g. 2030-01-31T09:00:00Z (a time past: at once). Not with X-Delay.'),
    }),
    ...(jobType.priority !== undefined && {
      'x-priority': z
        .string()
        .optional()
        .describe(`0 … ${jobType.priority.max}, higher is consumed first${jobType.priority.default !== undefined ? ` (default ${jobType.priority.default})` : ''}`),
    }),
  });
  registry.registerPath({
    method: 'post',
    path: `/v1/jobs/${jobType.type}`,
    summary: `Enqueue one ${jobType.type} job`,
    ...(jobType.description !== undefined && { description: jobType.description }),
    security,
    request: { headers, body: { required: true, content: { 'application/json': { schema: jobType.validator } } } },
    responses: { 202: json(JobAccepted, 'Confirmed by the broker'), ...errorResponses(ENQUEUE_ERRORS) },
  });
  registry.registerPath({
    method: 'post',
    path: `/v1/jobs/${jobType.type}/batch`,
    summary: `Enqueue up to ${maxBatchItems} ${jobType.type} jobs, pipelined`,
    description: 'Invalid items are not published; the others are. With Idempotency-Key K, item i gets the id K:i.',
    security,
    request: {
      headers,
      body: { required: true, content: { 'application/json': { schema: z.array(jobType.validator).min(1).max(maxBatchItems) } } },
    },
    responses: {
      202: json(BatchResult, 'Every item was confirmed'),
      207: json(BatchResult, 'Some items failed; each result says why'),
      ...errorResponses({ ...ENQUEUE_ERRORS, 400: 'Malformed JSON, not an array, or a bad header', 413: 'Body or item count over the limit' }),
    },
  });
}

const HISTORY_ACCESS =
  'Job history (on when WARREN_HISTORY_URL is set). An admin token reads every job; an enqueue token only the jobs it enqueued itself over HTTP (others are 404).';

function registerHistoryRoutes(registry: OpenAPIRegistry, security: Security, jobTypes: string[]): void {
  const jobType = jobTypes.length > 0 ? z.enum(jobTypes as [string, ...string[]]) : z.string();
  const errors = (notFound: string) =>
    errorResponses({
      400: 'INVALID_QUERY (an unknown or bad query parameter, a cursor this server did not give out) or INVALID_ID',
      401: 'Missing or unknown bearer token',
      404: notFound,
      503: 'HISTORY_UNAVAILABLE: the history database cannot be read right now; see Retry-After',
    });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{jobType}/{id}',
    summary: "A job's history: its acceptance, each consumer's state and attempts in order, and its DLQ replays and purges",
    description: HISTORY_ACCESS,
    security,
    request: { params: z.object({ jobType, id: z.string().min(1).max(255) }) },
    responses: {
      200: json(JobHistoryResponse, 'The job and its timeline per consumer'),
      ...errors('HISTORY_OFF, UNKNOWN_JOB_TYPE, or JOB_NOT_FOUND (unknown to the history, past the retention, or not the caller\'s)'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{jobType}',
    summary: `Search the job history of a job type by state and time range, newest first, at most ${SEARCH_MAX_LIMIT} per page`,
    description: HISTORY_ACCESS,
    security,
    request: {
      params: z.object({ jobType }),
      query: z.object({
        state: z.enum(CONSUMER_STATES).optional().describe('Jobs with at least one consumer in this state (that consumer only, with consumer)'),
        consumer: z.string().optional().describe('Only this consumer counts'),
        from: z.string().optional().describe('Accepted at or after: an ISO time, or a duration ago (30m, 2h, 1d)'),
        to: z.string().optional().describe('Accepted before: an ISO time, or a duration ago'),
        limit: z.number().int().min(1).max(SEARCH_MAX_LIMIT).optional().describe(`Page size, at most ${SEARCH_MAX_LIMIT} (default ${SEARCH_DEFAULT_LIMIT})`),
        cursor: z.string().optional().describe('nextCursor of the previous page'),
      }),
    },
    responses: { 200: json(JobSearchResponse, 'One page of jobs'), ...errors('HISTORY_OFF or UNKNOWN_JOB_TYPE') },
  });
}

function registerReadRoutes(registry: OpenAPIRegistry, security: Security, pageLimits: { jobs: { max: number }; queues: { max: number } }): void {
  const listErrors = errorResponses({
    400: 'INVALID_QUERY: limit or offset out of range, or an unknown query parameter',
    401: 'Missing or unknown bearer token',
    403: 'The token lacks the needed scope',
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs',
    summary: `Job types and their payload JSON Schemas, ${pageLimits.jobs.max} per page at most`,
    security,
    request: { query: pageParameters(pageLimits.jobs.max) },
    responses: { 200: json(JobTypeList, 'One page of job types'), ...listErrors },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/queues',
    summary: `Per queue of the topology: depth, consumers and rates (consumer lag), ${pageLimits.queues.max} per page at most; admin scope`,
    security,
    request: { query: pageParameters(pageLimits.queues.max) },
    responses: {
      200: json(QueueList, 'One page of queues'),
      ...listErrors,
      ...errorResponses({ 502: 'The management API answered with an error', 503: 'The management API is unreachable' }),
    },
  });
  registry.registerPath({ method: 'get', path: '/healthz', summary: 'The process is alive', responses: { 200: json(Health, 'Alive') } });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Connected to the broker and not blocked',
    responses: { 200: json(Readiness, 'Ready'), 503: json(Readiness, 'Not ready') },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
  });
}
