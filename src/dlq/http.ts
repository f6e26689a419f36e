import { context as otelContext } from '@opentelemetry/api';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { BrokerUnavailableError } from '../errors.ts';
import { ApiError } from '../producer/http-errors.ts';
import { jsonBody, requireJsonContent } from '../producer/json-body.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { MAX_OFFSET, MAX_PAGE_SIZE, parsePage } from './bounds.ts';
import { DlqBusyError, DlqInputError, DlqQueueError, ReplayTargetError } from './errors.ts';
import { MAX_FILTER_CHARS, MAX_FILTERS, parseSelection, type Selection } from './filter.ts';
import { listDeadLetters } from './inspect.ts';
import { readDeadLetter } from './message.ts';
import { purgeDeadLetters } from './purge.ts';
import { replayDeadLetters } from './replay.ts';
import { httpHeaderGetter } from '../tracing/carrier.ts';
import { continueFrom } from '../tracing/spans.ts';
import { replayRouteFor } from './replay-target.ts';
import { withDeadLetterQueue, type DlqContext } from './service.ts';
import { parseRate } from './target.ts';
import { dlqHistory } from './history.ts';
import type { HistoryRecorder } from '../history/recorder.ts';

export interface DlqRouterOptions {
  plan: TopologyPlan;
  amqpUrls: string[];
  /** Kept for the producer's call site; DLQ reads go over AMQP. */
  managementUrl?: string;
  /** Job history: replays and purges are recorded as events of each job. */
  history?: HistoryRecorder | undefined;
}

const PageNumber = (max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max));

/** `GET /v1/dlq/{queue}` query: a page of messages and a page of groups. Repeated or unknown parameters are refused. */
export const ListQuery = z.strictObject({
  /** Pages only the messages these filters select (`?filter=jobType=x&filter=error=y`); groups still cover the whole queue. */
  filter: z.union([z.string().max(MAX_FILTER_CHARS), z.array(z.string().max(MAX_FILTER_CHARS)).max(MAX_FILTERS)]).optional(),
  limit: PageNumber(MAX_PAGE_SIZE).optional(),
  offset: PageNumber(MAX_OFFSET).optional(),
  groupLimit: PageNumber(MAX_PAGE_SIZE).optional(),
  groupOffset: PageNumber(MAX_OFFSET).optional(),
});

const Filters = z.union([z.string().max(MAX_FILTER_CHARS), z.array(z.string().max(MAX_FILTER_CHARS)).max(MAX_FILTERS)]);
const Time = z.string().max(64);
const ListOffset = z.number().int().min(0).max(MAX_OFFSET);
const ListLimit = z.number().int().min(0).max(MAX_PAGE_SIZE);
/** A queue name as AMQP carries it (a short string: at most 255 bytes). */
const QueueName = z.string().min(1).refine((name) => Buffer.byteLength(name) <= 255, 'at most 255 bytes');

/** `POST /v1/dlq/{queue}/replay` body: the CLI's flags. */
export const ReplayBody = z.strictObject({
  filter: Filters.optional(),
  since: Time.optional(),
  until: Time.optional(),
  limit: z.number().int().min(0).max(MAX_OFFSET).optional(),
  rate: z.union([z.number().positive().max(1_000_000), z.string().max(32)]).optional(),
  dryRun: z.boolean().default(false),
  /** An explicit target queue: one of the topology's, not a shard queue or a stream partition (unless `force`). */
  to: QueueName.optional(),
  /** With `to`: skip the topology check (a shard queue, a queue outside the topology). */
  force: z.boolean().default(false),
  /** Dry run: the page of the selection to list. */
  listOffset: ListOffset.optional(),
  listLimit: ListLimit.optional(),
});
export type ReplayBody = z.infer<typeof ReplayBody>;

/** `POST /v1/dlq/{queue}/purge` body: the CLI's flags, plus the confirmation a real purge needs. */
export const PurgeBody = z.strictObject({
  filter: Filters.optional(),
  since: Time.optional(),
  until: Time.optional(),
  dryRun: z.boolean().default(false),
  /** The queue's name, repeated: required unless `dryRun`. */
  confirm: z.string().max(255).optional(),
  listOffset: ListOffset.optional(),
  listLimit: ListLimit.optional(),
});
export type PurgeBody = z.infer<typeof PurgeBody>;

/** The producer mounts its own `jsonBody` before this router; this one only parses when it did not (the same rule). */
const BODY_LIMIT = '64kb';

/**
 * The DLQ routes, mounted by the producer at `/v1/dlq` behind an admin
 * token (auth is the producer's job, before this router). Same data as
 * `warren dlq list|replay|purge --json`.
 *
 * - Bodies are JSON only (415 otherwise, before anything is read) and
 *   strict (unknown fields → 400): a cross-site form post cannot act.
 * - Every answer is bounded (bounds.ts): pages of at most 100 items,
 *   clipped texts.
 * - One pass per queue at a time in this process (409 otherwise): two
 *   passes over one DLQ would see each other's held messages.
 * - A client that disconnects stops its pass after the messages in flight.
 */
export function dlqRouter(options: DlqRouterOptions): Router {
  const context: DlqContext = { amqpUrls: options.amqpUrls, plan: options.plan };
  const busy = new Set<string>();
  const router = Router();
  // The producer's one content rule (415 unless JSON in UTF-8, bounded size and depth), applied here too so
  // the router is safe wherever it is mounted; a body parsed already is not parsed again.
  const parseJson = [requireJsonContent, jsonBody({ limit: BODY_LIMIT })];

  router.get('/:queue', async (req: Request<{ queue: string }>, res: Response) => {
    const query = ListQuery.safeParse(req.query);
    if (!query.success) throw invalid(query.error);
    const { queue } = req.params;
    const listing = await exclusive(busy, queue, (signal) => {
      const messages = parsePage({ offset: query.data.offset, limit: query.data.limit }, { offset: 'offset', limit: 'limit' });
      const groups = parsePage({ offset: query.data.groupOffset, limit: query.data.groupLimit }, { offset: 'groupOffset', limit: 'groupLimit' });
      return withDeadLetterQueue(context, queue, ({ broker }) =>
        listDeadLetters(broker, queue, { ...messages, groupOffset: groups.offset, groupLimit: groups.limit, signal, selection: selectionOf(query.data) }),
      );
    }, res);
    res.json(listing);
  });

  // One message in full (headers, payload up to 64 KiB), found by its message id; the queue is left as it was.
  router.get('/:queue/messages/:id', async (req: Request<{ queue: string; id: string }>, res: Response) => {
    if (Object.keys(req.query).length > 0) throw new ApiError(400, 'INVALID_REQUEST', 'this route takes no query parameters', []);
    const { queue, id } = req.params;
    if (Buffer.byteLength(id) > 255) throw new ApiError(400, 'INVALID_REQUEST', 'a message id is at most 255 bytes', []);
    const detail = await exclusive(busy, queue, (signal) => withDeadLetterQueue(context, queue, ({ broker }) => readDeadLetter(broker, queue, id, signal)), res);
    if (detail === undefined) throw new ApiError(404, 'MESSAGE_NOT_FOUND', `no message with this id in ${queue.slice(0, 255)}`, []);
    res.json(detail);
  });

  router.post('/:queue/replay', ...parseJson, async (req: Request<{ queue: string }>, res: Response) => {
    const body = ReplayBody.safeParse(parsedBody(req));
    if (!body.success) throw invalid(body.error);
    const { queue } = req.params;
    const input = body.data;
    // Each replayed job's span is a child of the caller's trace when the request carries one.
    const summary = await otelContext.with(continueFrom(req.headers, httpHeaderGetter), () => exclusive(busy, queue, (signal) => {
      const selection = selectionOf(input);
      const ratePerSecond = parseRate(input.rate);
      const route = replayRouteFor(context.plan, queue, { to: input.to, force: input.force });
      const list = parsePage({ offset: input.listOffset, limit: input.listLimit }, { offset: 'listOffset', limit: 'listLimit' });
      return withDeadLetterQueue(context, queue, ({ broker, openPublisher }) =>
        replayDeadLetters(broker, openPublisher, queue, {
          route,
          selection,
          dryRun: input.dryRun,
          list,
          signal,
          history: dlqHistory(options.history, context.plan, queue),
          ...(input.limit !== undefined && { limit: input.limit }),
          ...(ratePerSecond !== undefined && { ratePerSecond }),
        }),
      );
    }, res));
    res.json(summary);
  });

  router.post('/:queue/purge', ...parseJson, async (req: Request<{ queue: string }>, res: Response) => {
    const body = PurgeBody.safeParse(parsedBody(req));
    if (!body.success) throw invalid(body.error);
    const { queue } = req.params;
    const input = body.data;
    if (!input.dryRun && input.confirm !== queue) {
      throw new ApiError(400, 'CONFIRMATION_REQUIRED', 'a purge deletes messages for good: repeat the queue name in "confirm" (or send "dryRun": true)');
    }
    const summary = await exclusive(busy, queue, (signal) => {
      const selection = selectionOf(input);
      const list = parsePage({ offset: input.listOffset, limit: input.listLimit }, { offset: 'listOffset', limit: 'listLimit' });
      return withDeadLetterQueue(context, queue, ({ broker }) => purgeDeadLetters(broker, queue, { selection, dryRun: input.dryRun, list, signal, history: dlqHistory(options.history, context.plan, queue) }));
    }, res);
    res.json(summary);
  });
  return router;
}

/**
 * The parsed JSON body. A body nothing parsed is refused, never read as
 * `{}` — "no options" means "replay everything", so a body that was not
 * understood must never turn into it.
 */
function parsedBody(req: Request): unknown {
  if (req.body === undefined) throw new ApiError(400, 'BODY_REQUIRED', 'send a JSON object as the body ({} for the defaults)');
  return req.body;
}

function selectionOf(input: { filter?: string | string[] | undefined; since?: string | undefined; until?: string | undefined }): Selection {
  return parseSelection({
    filters: typeof input.filter === 'string' ? [input.filter] : (input.filter ?? []),
    ...(input.since !== undefined && { since: input.since }),
    ...(input.until !== undefined && { until: input.until }),
  });
}

/**
 * Runs one pass on `queue`, alone (409 while another runs), aborted when the
 * client goes away, with DLQ errors turned into API errors.
 */
async function exclusive<T>(busy: Set<string>, queue: string, run: (signal: AbortSignal) => Promise<T>, res: Response): Promise<T> {
  if (busy.has(queue)) throw asApiError(new DlqBusyError(queue));
  busy.add(queue);
  const controller = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  try {
    return await run(controller.signal);
  } catch (error) {
    throw asApiError(error);
  } finally {
    busy.delete(queue);
    res.off('close', onClose);
  }
}

function invalid(error: z.ZodError): ApiError {
  return new ApiError(
    400,
    'INVALID_REQUEST',
    'invalid request',
    error.issues.slice(0, 20).map((issue) => ({ path: issue.path.map(String).slice(0, 5), message: issue.message.slice(0, 200) })),
  );
}

/** DLQ failures as the client sees them; error texts name the failure, never a host or URL. */
function asApiError(error: unknown): unknown {
  if (error instanceof DlqInputError) return new ApiError(400, 'INVALID_REQUEST', error.message, []);
  if (error instanceof ReplayTargetError) return new ApiError(400, error.code, error.message, []);
  if (error instanceof DlqQueueError) {
    const status = error.reason === 'unknown-target' ? 400 : 404;
    return new ApiError(status, error.reason.replaceAll('-', '_').toUpperCase(), error.message, []);
  }
  if (error instanceof DlqBusyError) return new ApiError(409, error.code, error.message, []);
  if (error instanceof BrokerUnavailableError) return new ApiError(503, 'BROKER_UNAVAILABLE', 'the broker is unreachable', []);
  return error;
}
