import express, { type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { DlqInputError } from '../dlq/errors.ts';
import { parseTime } from '../dlq/filter.ts';
import { InvalidCursorError, SEARCH_MAX_LIMIT, type JobHistoryHandle } from '../history/index.ts';
import { CONSUMER_STATES } from '../history/state.ts';
import type { Caller } from './auth.ts';
import { ApiError } from './http-errors.ts';

/**
 * The job history's read routes:
 * `GET /v1/jobs/:jobType/:id` (one job's timeline per consumer) and
 * `GET /v1/jobs/:jobType` (a search by state and time range, newest first,
 * one bounded page at a time with an opaque cursor).
 *
 * Who reads what: an `admin` token every job; an `enqueue` token only the
 * jobs it enqueued itself over HTTP (the history keeps a fingerprint of the
 * enqueuing token) — to it every other job is a 404, so ids cannot be
 * probed. Without tokens (an `--insecure` producer) everything is open.
 */
export interface HistoryRoutesOptions {
  /** Undefined when history is off: the routes then answer 404 HISTORY_OFF. */
  history: JobHistoryHandle | undefined;
  jobTypes: ReadonlySet<string>;
  guard: RequestHandler;
}

/** Default page of a search (the maximum is `SEARCH_MAX_LIMIT`). */
export const SEARCH_DEFAULT_LIMIT = 50;

export const SearchQuery = z.strictObject({
  state: z.enum(CONSUMER_STATES).optional(),
  consumer: z.string().min(1).max(255).optional(),
  from: z.string().min(1).max(64).optional(),
  to: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(SEARCH_MAX_LIMIT).default(SEARCH_DEFAULT_LIMIT),
  cursor: z.string().min(1).max(600).optional(),
});

export function historyRoutes(options: HistoryRoutesOptions): Router {
  const router = express.Router();
  const ready: RequestHandler = (req, res, next) => {
    if (options.history === undefined) throw new ApiError(404, 'HISTORY_OFF', 'job history is off on this server (set WARREN_HISTORY_URL to turn it on)');
    const jobType = String(req.params.jobType);
    if (!options.jobTypes.has(jobType)) throw new ApiError(404, 'UNKNOWN_JOB_TYPE', `unknown job type ${JSON.stringify(jobType.slice(0, 100))}`, { known: [...options.jobTypes] });
    next();
  };
  router.get('/v1/jobs/:jobType/:id', options.guard, ready, async (req, res) => {
    if (Object.keys(req.query).length > 0) throw new ApiError(400, 'INVALID_QUERY', 'this route takes no query parameters');
    const id = String(req.params.id);
    if (id.length > 255) throw new ApiError(400, 'INVALID_ID', 'a job id is at most 255 characters');
    const history = historyOf(options);
    const job = await history.reader.job({ id, jobType: String(req.params.jobType), submittedBy: ownOnly(res) }).catch(unavailable);
    if (job === undefined) throw new ApiError(404, 'JOB_NOT_FOUND', 'no history for this job (unknown, older than the retention, or not yet written)');
    res.setHeader('Cache-Control', 'no-store');
    res.json(job);
  });
  router.get('/v1/jobs/:jobType', options.guard, ready, async (req, res) => {
    const parsed = SearchQuery.safeParse(req.query);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }));
      throw new ApiError(400, 'INVALID_QUERY', 'invalid query parameters', details);
    }
    const query = parsed.data;
    const now = new Date();
    let fromMs: number | undefined;
    let toMs: number | undefined;
    try {
      fromMs = query.from === undefined ? undefined : parseTime(query.from, now, 'from');
      toMs = query.to === undefined ? undefined : parseTime(query.to, now, 'to');
    } catch (error) {
      if (error instanceof DlqInputError) throw new ApiError(400, 'INVALID_QUERY', error.message);
      throw error;
    }
    const page = await historyOf(options)
      .reader.search({ jobType: String(req.params.jobType), state: query.state, consumer: query.consumer, fromMs, toMs, limit: query.limit, cursor: query.cursor, submittedBy: ownOnly(res) })
      .catch((error: unknown) => {
        if (error instanceof InvalidCursorError) throw new ApiError(400, 'INVALID_QUERY', error.message);
        return unavailable(error);
      });
    res.setHeader('Cache-Control', 'no-store');
    res.json(page);
  });
  return router;
}

function historyOf(options: HistoryRoutesOptions): JobHistoryHandle {
  if (options.history === undefined) throw new ApiError(404, 'HISTORY_OFF', 'job history is off');
  return options.history;
}

/** The token fingerprint an `enqueue` caller is limited to; undefined for admin and for an insecure server. */
function ownOnly(res: Response): string | undefined {
  const caller = res.locals.caller as Caller | undefined;
  return caller?.scope === 'enqueue' ? caller.token : undefined;
}

/** The history database failing a read: a 503 that names neither host nor port. */
function unavailable(error: unknown): never {
  if (error instanceof ApiError) throw error;
  throw new ApiError(503, 'HISTORY_UNAVAILABLE', 'the job history database is unavailable', null);
}
