import express, { type RequestHandler, type Router } from 'express';
import { ApiError } from '../producer/http-errors.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { streamsOverview } from './group-admin.ts';

/**
 * `GET /v1/streams` (admin): per stream of the topology, each partition's
 * end offset, and per consumer group its live members, owners, committed
 * offsets and lag (end − committed). Groups need `DATABASE_URL` (they live in
 * PostgreSQL); without it `groups` is null.
 */
export function streamRoutes(options: { plan: TopologyPlan; amqpUrls: string[]; databaseUrl: string | undefined; tablePrefix?: string | undefined; guard: RequestHandler }): Router {
  const router = express.Router();
  router.get('/v1/streams', options.guard, async (_req, res) => {
    const streams = await streamsOverview({
      plan: options.plan,
      amqpUrls: options.amqpUrls,
      databaseUrl: options.databaseUrl,
      ...(options.tablePrefix !== undefined && { tablePrefix: options.tablePrefix }),
    }).catch((error: unknown) => {
      throw new ApiError(503, 'STREAMS_UNAVAILABLE', `cannot read the streams: ${error instanceof Error ? error.message : String(error)}`);
    });
    res.json({ streams });
  });
  return router;
}
