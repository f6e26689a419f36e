import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { BrokerConnection } from '../broker/connection.ts';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { ManagementClient } from '../broker/management.ts';
import { redactText } from '../broker/urls.ts';
import { dlqRouter } from '../dlq/http.ts';
import type { Logger } from '../log.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { requireScope, type parseApiTokens } from './auth.ts';
import { ApiError, describeUnexpected, errorHandler, managementApiError, refusal, requestIdOf, scrubServerErrors, sendApiError } from './http-errors.ts';
import { enqueueFastPath } from './enqueue-fast-path.ts';
import { JobSender } from '../client/sender.ts';
import { jobRoutes, timedPublisher } from './job-routes.ts';
import { historyRoutes } from './history-routes.ts';
import type { JobHistoryHandle } from '../history/index.ts';
import type { JobType } from '../client/job-types.ts';
import { jsonBody, requireJsonContent } from './json-body.ts';
import type { ProducerMetrics } from './metrics.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { pageOf, pageQuery, parsePageQuery } from './pagination.ts';
import { queueLag } from './queue-lag.ts';
import { queueOwners } from './queue-owners.ts';
import { consoleRoutes } from '../console/routes.ts';
import { eventRoutes } from '../streams/event-routes.ts';
import { streamRoutes } from '../streams/stream-routes.ts';
import { EventSender } from '../streams/event-sender.ts';
import { buildEventTypes } from '../streams/event-types.ts';

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
  /** Running without tokens by explicit choice: said in `/readyz`, and only loopback Host names are served when bound to loopback. */
  insecure: boolean;
  /** The address the server binds. */
  host: string;
  /** Where stream consumer groups keep offsets (`DATABASE_URL`), for `/v1/streams`. */
  databaseUrl?: string | undefined;
  /** Table prefix of the stream group tables. @defaultValue 'warren_' */
  streamTablePrefix?: string;
  /** The job history, when on: accepted jobs are recorded, the history routes answer, DLQ replays and purges are recorded. */
  history?: JobHistoryHandle | undefined;
}

/** Hard maximum (and default) page sizes of the list routes: the bound on one response. */
export const PAGE_LIMITS = {
  /** `GET /v1/jobs`: each entry carries its payload schema. */
  jobs: { max: 100 },
  /** `GET /v1/queues`: ~200 bytes per queue. */
  queues: { max: 500 },
} as const;

/** DLQ request bodies are small option objects. */
const DLQ_BODY_LIMIT = '64kb';

/**
 * The producer's request listener: the two enqueue routes are taken by
 * `enqueueFastPath` before express (see there for why), everything else —
 * and an enqueue the fast path leaves, e.g. with a compressed body — goes to
 * the express app, which serves the enqueue routes too, with the same answers.
 */
export function createProducerHandler(deps: AppDeps): { app: Express; listener: RequestListener } {
  const sender = senderFor(deps);
  const app = createApp(deps, sender);
  const fast = enqueueFastPath({
    sender,
    tokens: deps.tokens,
    bodyLimit: deps.bodyLimit,
    maxBatchItems: deps.maxBatchItems,
    retryAfterSeconds: deps.retryAfterSeconds,
    metrics: deps.metrics,
    logger: deps.logger,
    securityHeaders: helmetHeaders(),
    ...(deps.insecure && isLoopback(deps.host) && { hostAllowed: (host: string | undefined) => LOOPBACK_HOST_HEADER.test(host ?? '') }),
  });
  return {
    app,
    listener: (req, res) => {
      if (!fast(req, res)) app(req, res);
    },
  };
}

/** The job client's sender over the producer's timed publisher, recording accepted jobs when history is on. */
function senderFor(deps: AppDeps): JobSender {
  return new JobSender(deps.jobTypes, timedPublisher(deps.publisher, deps.metrics), { history: deps.history?.recorder });
}

/** The producer's express app. Everything a request needs is built here, once. */
export function createApp(deps: AppDeps, sender = senderFor(deps)): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(scrubServerErrors);
  app.use(helmet());
  app.use(requestLogger(deps.logger));
  app.use(countRequests(deps.metrics));
  if (deps.insecure && isLoopback(deps.host)) app.use(loopbackHostOnly);
  // The content rule, for every route (DLQ included), before any router.
  app.use(requireJsonContent);
  const enqueue = requireScope(deps.tokens, 'enqueue', deps.retryAfterSeconds);
  const admin = requireScope(deps.tokens, 'admin', deps.retryAfterSeconds);

  app.use(jobRoutes({ sender, bodyLimit: deps.bodyLimit, maxBatchItems: deps.maxBatchItems, guard: enqueue }));
  const eventTypes = buildEventTypes(deps.plan);
  if (eventTypes.size > 0) {
    const events = new EventSender(eventTypes, timedPublisher(deps.publisher, deps.metrics));
    app.use(eventRoutes({ sender: events, bodyLimit: deps.bodyLimit, guard: enqueue }));
  }
  const jobEntries = [...deps.jobTypes.values()].map((jobType) => JSON.stringify(describeJobType(jobType)));
  const jobsQuery = pageQuery(PAGE_LIMITS.jobs);
  app.get('/v1/jobs', enqueue, (req, res) => {
    const { items, ...page } = pageOf(jobEntries, parsePageQuery(jobsQuery, req.query));
    // Entries are serialised once at startup; a page only joins them.
    res.type('application/json').send(`{"jobs":[${items.join(',')}],${JSON.stringify(page).slice(1)}`);
  });
  app.use(historyRoutes({ history: deps.history, jobTypes: new Set(deps.jobTypes.keys()), guard: enqueue }));
  const queuesQuery = pageQuery(PAGE_LIMITS.queues);
  const owners = queueOwners(deps.plan);
  app.get('/v1/queues', admin, async (req, res) => {
    const query = parsePageQuery(queuesQuery, req.query);
    const queues = await queueLag(deps.management, deps.plan, deps.vhost).catch((error: unknown) => {
      throw managementApiError(error);
    });
    const { items, ...page } = pageOf(queues, query);
    const rows = items.map((queue) => ({ ...queue, consumer: owners.get(queue.name)?.consumer ?? null, kind: owners.get(queue.name)?.kind ?? null }));
    res.json({ vhost: deps.vhost, queues: rows, ...page });
  });
  if ((deps.plan.streams ?? []).length > 0) {
    app.use(streamRoutes({ plan: deps.plan, amqpUrls: deps.amqpUrls, databaseUrl: deps.databaseUrl, tablePrefix: deps.streamTablePrefix, guard: admin }));
  }
  // Parsed here, after the admin check and under the content rule's bounds;
  // the DLQ router then finds the body already read.
  app.use('/v1/dlq', admin, jsonBody({ limit: DLQ_BODY_LIMIT }), dlqRouter({ plan: deps.plan, amqpUrls: deps.amqpUrls, managementUrl: deps.managementUrl, history: deps.history?.recorder }));
  // The console's page and bundle: no data in them; every figure it shows comes from the admin routes above, with its token.
  app.use('/console', consoleRoutes());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const state = deps.connection.state;
    const ready = state.connected && state.blocked === undefined;
    if (!ready) res.setHeader('Retry-After', String(deps.retryAfterSeconds));
    res.status(ready ? 200 : 503).json({ ready, connected: state.connected, blocked: state.blocked ?? null, insecure: deps.insecure });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  const openApi = JSON.stringify(
    buildOpenApiDocument(deps.jobTypes.values(), { maxBatchItems: deps.maxBatchItems, pageLimits: PAGE_LIMITS, eventTypes: eventTypes.values(), streams: (deps.plan.streams ?? []).length > 0 }),
  );
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

/**
 * The headers helmet() sets on every response, read once by running it
 * against a recording response: the fast path sends exactly these, and
 * follows helmet's defaults as they change.
 */
function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name];
    },
  };
  let called = false;
  (helmet() as unknown as (req: object, res: object, next: (error?: unknown) => void) => void)({ headers: {}, method: 'GET', url: '/' }, recorder, (error) => {
    if (error !== undefined) throw error;
    called = true;
  });
  if (!called) throw new Error('helmet did not finish synchronously: its headers cannot be captured');
  return headers;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const LOOPBACK_HOST_HEADER = /^(?:localhost|[\w-]+\.localhost|127\.\d+\.\d+\.\d+|\[::1\])(?::\d+)?$/i;

/**
 * An insecure server on loopback serves only requests addressed to a
 * loopback name. A web page the developer visits could otherwise rebind its
 * own domain to 127.0.0.1 and call the open admin routes as same-origin.
 */
const loopbackHostOnly: RequestHandler = (req, _res, next) => {
  if (!LOOPBACK_HOST_HEADER.test(req.headers.host ?? '')) {
    throw refusal.hostNotAllowed();
  }
  next();
};

/** pino-http with the smallest useful request and response records (no headers: they carry tokens). */
function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const id = requestIdOf(req.headers['x-request-id']);
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
