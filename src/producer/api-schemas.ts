import { z } from 'zod';

/**
 * The response bodies of the producer's routes, as zod schemas: the OpenAPI
 * document is generated from these (and from each job type's payload
 * schema), and the tests parse real responses with them.
 */
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
});

export const JobAccepted = z.object({
  id: z.string(),
  jobType: z.string(),
  routingKey: z.string(),
  /** When the job is due (ISO 8601), for a job sent with `X-Delay` or `X-Run-At`. */
  runAt: z.string().optional(),
});

export const BatchResult = z.object({
  accepted: z.number().int(),
  results: z.array(
    z.object({
      index: z.number().int(),
      status: z.number().int(),
      id: z.string().optional(),
      error: ErrorResponse.shape.error.optional(),
    }),
  ),
});

/** The paging fields of every list (`GET /v1/jobs`, `GET /v1/queues`). */
const PageFields = {
  total: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  nextOffset: z.number().int().optional(),
};

export const JobTypeList = z.object({
  ...PageFields,
  jobs: z.array(
    z.object({
      type: z.string(),
      exchange: z.string(),
      routingKey: z.string(),
      orderingKey: z.string().nullable(),
      description: z.string().nullable(),
      schema: z.record(z.string(), z.unknown()),
    }),
  ),
});

export const QueueList = z.object({
  ...PageFields,
  vhost: z.string(),
  queues: z.array(
    z.object({
      name: z.string(),
      exists: z.boolean(),
      messagesReady: z.number().int(),
      messagesUnacked: z.number().int(),
      consumers: z.number().int(),
      publishRate: z.number().nullable(),
      ackRate: z.number().nullable(),
      deliverRate: z.number().nullable(),
      /** Seconds since the epoch: the `timestamp` of the message at the head (classic queues; null when the broker does not tell). */
      headMessageTimestamp: z.number().int().nullable(),
    }),
  ),
});

export const Health = z.object({ status: z.literal('ok') });

export const Readiness = z.object({
  ready: z.boolean(),
  connected: z.boolean(),
  blocked: z.string().nullable(),
  /** Running without API tokens (`--insecure`): every route is open. */
  insecure: z.boolean(),
});

const ConsumerStateSchema = z.enum(['succeeded', 'retried', 'dead-lettered', 'duplicate', 'released', 'replayed', 'purged', 'pending']);
const AttemptOutcomeSchema = z.enum(['succeeded', 'retried', 'dead-lettered', 'duplicate', 'released']);

/** `GET /v1/jobs/{jobType}/{id}`: the job and its timeline per consumer (job history). */
export const JobHistoryResponse = z.object({
  id: z.string(),
  jobType: z.string().nullable(),
  acceptedAt: z.string().nullable().describe('Null when the job was published by something that does not record history'),
  correlationId: z.string().nullable(),
  payloadSize: z.number().int().nullable(),
  payload: z.unknown().optional().describe('Only when payload recording is on (WARREN_HISTORY_PAYLOAD=1)'),
  traceId: z.string().nullable().describe('W3C trace id of the traceparent the job was published with'),
  consumers: z.array(
    z.object({
      consumer: z.string(),
      state: ConsumerStateSchema,
      attempts: z.array(
        z.object({
          attempt: z.number().int(),
          startedAt: z.string(),
          finishedAt: z.string(),
          outcome: AttemptOutcomeSchema,
          deadLetterReason: z.string().optional(),
          error: z.object({ class: z.string(), message: z.string() }).nullable(),
          workerId: z.string(),
          traceId: z.string().nullable(),
        }),
      ),
    }),
  ),
  events: z.array(z.object({ kind: z.enum(['replayed', 'purged']), consumer: z.string().nullable(), queue: z.string(), at: z.string() })),
});

/** `GET /v1/jobs/{jobType}`: one page of a history search, newest first. */
export const JobSearchResponse = z.object({
  jobs: z.array(
    z.object({
      id: z.string(),
      jobType: z.string(),
      acceptedAt: z.string(),
      correlationId: z.string().nullable(),
      traceId: z.string().nullable(),
      consumers: z.record(z.string(), ConsumerStateSchema),
    }),
  ),
  limit: z.number().int(),
  nextCursor: z.string().optional().describe('Pass as cursor for the next (older) page; absent on the last page'),
});
