import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BrokerConnection } from '../broker/connection.ts';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { ManagementClient } from '../broker/management.ts';
import { redactText } from '../broker/urls.ts';
import { dlqRouter } from '../dlq/http.ts';
import type { Logger } from '../log.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { requireScope, type parseApiTokens } from './auth.ts';
import { ApiError, errorHandler, sendApiError } from './http-errors.ts';
import { jobRoutes } from './job-routes.ts';
import type { JobType } from './job-types.ts';
import type { ProducerMetrics } from './metrics.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { queueLag } from './queue-lag.ts';

export interface AppDeps {
  plan: TopologyPlan;
  jobTypes: ReadonlyMap<string, JobType>;
  connection: BrokerConnection;
  publisher: ConfirmPublisher;
  management: ManagementClient;
  metrics: ProducerMetrics;
  logger: Logger;
  tokens: ReturnType<typeof parseApiTokens>;
  vhost: string;
  amqpUrls: string[];
  managementUrl: string;
  bodyLimit: string;
  maxBatchItems: number;
  retryAfterSeconds: number;
}

/** The producer's express app. Everything a request needs is built here, once. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet());
  app.use(requestLogger(deps.logger));
  app.use(countRequests(deps.metrics));
  const enqueue = requireScope(deps.tokens, 'enqueue', deps.retryAfterSeconds);
  const admin = requireScope(deps.tokens, 'admin', deps.retryAfterSeconds);

  app.use(jobRoutes({ ...deps, guard: enqueue }));
  const jobList = JSON.stringify({ jobs: [...deps.jobTypes.values()].map(describeJobType) });
  app.get('/v1/jobs', enqueue, (_req, res) => {
    res.type('application/json').send(jobList);
  });
  app.get('/v1/queues', admin, async (_req, res) => {
    res.json({ vhost: deps.vhost, queues: await queueLag(deps.management, deps.plan, deps.vhost) });
  });
  app.use('/v1/dlq', admin, dlqRouter({ plan: deps.plan, amqpUrls: deps.amqpUrls, managementUrl: deps.managementUrl }));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const state = deps.connection.state;
    const ready = state.connected && state.blocked === undefined;
    if (!ready) res.setHeader('Retry-After', String(deps.retryAfterSeconds));
    res.status(ready ? 200 : 503).json({ ready, connected: state.connected, blocked: state.blocked ?? null });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  const openApi = JSON.stringify(buildOpenApiDocument(deps.jobTypes.values(), deps));
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApi);
  });
  app.use((req, res) => {
    sendApiError(res, new ApiError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`), deps.retryAfterSeconds);
  });
  app.use(
    errorHandler({
      retryAfterSeconds: deps.retryAfterSeconds,
      onUnexpected: (error) => deps.logger.error({ error: describeUnexpected(error) }, 'unexpected error'),
    }),
  );
  return app;
}

function describeJobType(jobType: JobType) {
  return {
    type: jobType.type,
    exchange: jobType.exchange,
    routingKey: jobType.routingKey,
    orderingKey: jobType.orderingKey ?? null,
    description: jobType.description ?? null,
    schema: jobType.jsonSchema,
  };
}

/** Class and redacted message only: stacks and broker URLs stay out of logs. */
function describeUnexpected(error: unknown): { class: string; message: string } {
  return error instanceof Error
    ? { class: error.constructor.name, message: redactText(error.message) }
    : { class: typeof error, message: redactText(String(error)) };
}

const REQUEST_ID = /^[\w.:-]{1,100}$/;

/** pino-http with the smallest useful request and response records (no headers: they carry tokens). */
function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      // pino-http makes an Error for every 5xx; its stack says nothing about the request.
      err: (error: Error) => ({ type: error.constructor.name, message: redactText(error.message) }),
    },
    customLogLevel: (_req, res) => (res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    quietReqLogger: true,
  }) as RequestHandler;
}

/** Counts each response by its route pattern (never the raw URL: bounded label values). */
function countRequests(metrics: ProducerMetrics): RequestHandler {
  return (req, res, next) => {
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      metrics.requests.inc({ route: `${req.baseUrl}${route}`, method: req.method, status: res.statusCode });
    });
    next();
  };
}

interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
}

/** Every `METHOD path` the app serves (nested routers included), for checking the OpenAPI document against. */
export function listRoutes(app: Express): string[] {
  const walk = (stack: readonly RouteLayer[]): string[] =>
    stack.flatMap((layer) =>
      layer.route
        ? Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${layer.route?.path ?? ''}`)
        : layer.handle?.stack
          ? walk(layer.handle.stack)
          : [],
    );
  return walk((app as unknown as { router: { stack: RouteLayer[] } }).router.stack);
}
