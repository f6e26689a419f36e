import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { BrokerUnavailableError } from '../errors.ts';
import { redactText } from '../broker/urls.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { DlqInputError, DlqQueueError } from './errors.ts';
import { parseSelection } from './filter.ts';
import { listDeadLetters } from './inspect.ts';
import { replayDeadLetters } from './replay.ts';
import { withDeadLetterQueue, type DlqContext } from './service.ts';
import { parseRate } from './target.ts';

export interface DlqRouterOptions {
  plan: TopologyPlan;
  amqpUrls: string[];
  /** Kept for the producer's call site; DLQ reads go over AMQP. */
  managementUrl: string;
}

/** `GET /v1/dlq/{queue}` query: a page of the listing. */
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(0).max(1_000).default(20),
  offset: z.coerce.number().int().min(0).default(0),
});

/** `POST /v1/dlq/{queue}/replay` body: the CLI's flags. */
export const ReplayBody = z.strictObject({
  filter: z.union([z.string(), z.array(z.string())]).optional(),
  since: z.string().optional(),
  until: z.string().optional(),
  limit: z.number().int().min(0).optional(),
  rate: z.union([z.number().positive(), z.string()]).optional(),
  dryRun: z.boolean().default(false),
  to: z.string().min(1).optional(),
});
export type ReplayBody = z.infer<typeof ReplayBody>;

/**
 * The DLQ routes, mounted by the producer at `/v1/dlq` behind an admin
 * token (auth is the producer's job, before this router). Same data as
 * `warren dlq list --json` and `warren dlq replay --json`.
 */
export function dlqRouter(options: DlqRouterOptions): Router {
  const context: DlqContext = { amqpUrls: options.amqpUrls, plan: options.plan };
  const router = Router();
  router.get('/:queue', async (req: Request<{ queue: string }>, res: Response) => {
    await respond(res, async () => {
      const query = ListQuery.safeParse(req.query);
      if (!query.success) return invalid(res, query.error);
      const { queue } = req.params;
      const listing = await withDeadLetterQueue(context, queue, (broker) => listDeadLetters(broker, queue, query.data));
      const nextOffset = query.data.offset + listing.messages.length;
      res.json({ ...listing, offset: query.data.offset, limit: query.data.limit, ...(nextOffset < listing.count && { nextOffset }) });
    });
  });
  router.post('/:queue/replay', express.json({ limit: '64kb' }), async (req: Request<{ queue: string }>, res: Response) => {
    await respond(res, async () => {
      const body = ReplayBody.safeParse(req.body ?? {});
      if (!body.success) return invalid(res, body.error);
      const { queue } = req.params;
      const input = body.data;
      const selection = parseSelection({
        filters: typeof input.filter === 'string' ? [input.filter] : (input.filter ?? []),
        ...(input.since !== undefined && { since: input.since }),
        ...(input.until !== undefined && { until: input.until }),
      });
      const ratePerSecond = parseRate(input.rate);
      const summary = await withDeadLetterQueue(context, queue, (broker) =>
        replayDeadLetters(broker, queue, {
          selection,
          dryRun: input.dryRun,
          ...(input.limit !== undefined && { limit: input.limit }),
          ...(ratePerSecond !== undefined && { ratePerSecond }),
          ...(input.to !== undefined && { to: input.to }),
        }),
      );
      res.json(summary);
    });
  });
  return router;
}

async function respond(res: Response, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    sendError(res, error);
  }
}

function invalid(res: Response, error: z.ZodError): void {
  res.status(400).json({
    error: { code: 'INVALID_REQUEST', message: 'invalid request', details: error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
  });
}

function sendError(res: Response, error: unknown): void {
  if (error instanceof DlqInputError) {
    res.status(400).json({ error: { code: 'INVALID_REQUEST', message: error.message, details: [] } });
  } else if (error instanceof DlqQueueError) {
    const status = error.reason === 'unknown-target' ? 400 : 404;
    res.status(status).json({ error: { code: error.reason.replaceAll('-', '_').toUpperCase(), message: error.message, details: [] } });
  } else if (error instanceof BrokerUnavailableError) {
    res.status(503).set('Retry-After', '5').json({ error: { code: 'BROKER_UNAVAILABLE', message: redactText(error.message), details: [] } });
  } else {
    const message = error instanceof Error ? redactText(error.message) : 'internal error';
    res.status(500).json({ error: { code: 'INTERNAL', message, details: [] } });
  }
}
