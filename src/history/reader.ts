import type { PostgresHistoryStore } from './postgres-store.ts';
import { CONSUMER_STATES, type ConsumerState } from './state.ts';
import { buildJobHistory, decodeCursor, encodeCursor, type AttemptRow, type EventRow, type JobHistory, type JobRow } from './timeline.ts';

/** Most attempts and events read for one job: the bound on one answer. */
const MAX_ROWS_PER_JOB = 1_000;
/** Largest (and default) search page. */
export const SEARCH_MAX_LIMIT = 100;

export interface JobLookup {
  id: string;
  /** The job type (the HTTP route always has one; `warren job` may not). */
  jobType?: string | undefined;
  /** Only a job this token fingerprint enqueued (an `enqueue`-scope reader). */
  submittedBy?: string | undefined;
}

export interface JobSearch {
  jobType: string;
  /** Jobs with at least one consumer in this state. */
  state?: ConsumerState | undefined;
  /** Only this consumer's state counts (with `state`), or jobs it has seen (without). */
  consumer?: string | undefined;
  /** Accepted at or after (epoch ms). */
  fromMs?: number | undefined;
  /** Accepted before (epoch ms). */
  toMs?: number | undefined;
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
  submittedBy?: string | undefined;
}

export interface JobSummary {
  id: string;
  jobType: string;
  acceptedAt: string;
  correlationId: string | null;
  traceId: string | null;
  /** Each consumer that has seen the job → its state. */
  consumers: Record<string, ConsumerState>;
}

export interface JobSearchPage {
  jobs: JobSummary[];
  limit: number;
  /** Pass as `cursor` for the next (older) page; absent on the last page. */
  nextCursor?: string;
}

export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
}

/** The read side of the history: one job's timeline, and a paginated search. */
export class HistoryReader {
  constructor(private readonly store: PostgresHistoryStore) {}

  async job(lookup: JobLookup): Promise<JobHistory | undefined> {
    const s = this.store.sql.schema;
    const type = lookup.jobType ?? null;
    const [jobs, attempts, events] = await Promise.all([
      this.store.query<JobRow>(
        `SELECT id, job_type, accepted_at, correlation_id, payload_size, payload, trace_id, submitted_by FROM "${s}".jobs
         WHERE id = $1 AND ($2::text IS NULL OR job_type = $2) ORDER BY accepted_at LIMIT 1`,
        [lookup.id, type],
      ),
      this.store.query<AttemptRow>(
        `SELECT job_type, consumer, attempt, started_at, finished_at, outcome, dead_letter_reason, error_class, error_message, worker_id, trace_id
         FROM "${s}".attempts WHERE job_id = $1 AND ($2::text IS NULL OR job_type = $2 OR job_type IS NULL)
         ORDER BY started_at, attempt LIMIT ${MAX_ROWS_PER_JOB}`,
        [lookup.id, type],
      ),
      this.store.query<EventRow>(
        `SELECT kind, consumer, queue, at FROM "${s}".events
         WHERE job_id = $1 AND ($2::text IS NULL OR job_type = $2 OR job_type IS NULL) ORDER BY at LIMIT ${MAX_ROWS_PER_JOB}`,
        [lookup.id, type],
      ),
    ]);
    const job = jobs[0];
    // An enqueue-scope token reads only what it enqueued itself; to it, anything else does not exist.
    if (lookup.submittedBy !== undefined && job?.submitted_by !== lookup.submittedBy) return undefined;
    return buildJobHistory(lookup.id, job, attempts, events);
  }

  async search(query: JobSearch): Promise<JobSearchPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > SEARCH_MAX_LIMIT) throw new RangeError(`limit must be 1 to ${SEARCH_MAX_LIMIT}`);
    if (query.state !== undefined && !(CONSUMER_STATES as readonly string[]).includes(query.state)) throw new RangeError(`unknown state ${query.state}`);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) throw new InvalidCursorError('cursor is not one this server gave out');
    const s = this.store.sql.schema;
    // A consumer's state, as state.ts derives it: succeeded if any attempt
    // did, else duplicate if any was, else whatever happened last (an event
    // ranks after an attempt of the same instant).
    const rows = await this.store.query<JobRow & { states: Record<string, ConsumerState> }>(
      `SELECT j.id, j.job_type, j.accepted_at, j.correlation_id, j.trace_id, st.states FROM "${s}".jobs j
       CROSS JOIN LATERAL (
         SELECT coalesce(jsonb_object_agg(per.consumer, per.state), '{}'::jsonb) AS states FROM (
           SELECT item.consumer,
             CASE WHEN bool_or(item.kind = 'succeeded') THEN 'succeeded'
                  WHEN bool_or(item.kind = 'duplicate') THEN 'duplicate'
                  ELSE (array_agg(item.kind ORDER BY item.at DESC, item.rank DESC))[1] END AS state
           FROM (
             SELECT a.consumer, a.outcome AS kind, a.finished_at AS at, a.attempt::bigint AS rank
               FROM "${s}".attempts a WHERE a.job_id = j.id AND (a.job_type = j.job_type OR a.job_type IS NULL)
             UNION ALL
             SELECT e.consumer, e.kind, e.at, 9007199254740991
               FROM "${s}".events e WHERE e.job_id = j.id AND e.consumer IS NOT NULL AND (e.job_type = j.job_type OR e.job_type IS NULL)
           ) item GROUP BY item.consumer
         ) per
       ) st
       WHERE j.job_type = $1
         AND ($2::timestamptz IS NULL OR j.accepted_at >= $2)
         AND ($3::timestamptz IS NULL OR j.accepted_at < $3)
         AND ($4::timestamptz IS NULL OR (j.accepted_at, j.id) < ($4, $5::text))
         AND ($6::text IS NULL OR j.submitted_by = $6)
         AND ($7::text IS NULL AND $8::text IS NULL OR EXISTS (
           SELECT 1 FROM jsonb_each_text(st.states) kv WHERE ($7::text IS NULL OR kv.value = $7) AND ($8::text IS NULL OR kv.key = $8)))
       ORDER BY j.accepted_at DESC, j.id DESC
       LIMIT ${query.limit + 1}`,
      [
        query.jobType,
        query.fromMs === undefined ? null : new Date(query.fromMs).toISOString(),
        query.toMs === undefined ? null : new Date(query.toMs).toISOString(),
        after?.acceptedAt ?? null,
        after?.id ?? null,
        query.submittedBy ?? null,
        query.state ?? null,
        query.consumer ?? null,
      ],
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      jobs: page.map((row) => ({
        id: row.id,
        jobType: row.job_type,
        acceptedAt: row.accepted_at.toISOString(),
        correlationId: row.correlation_id,
        traceId: row.trace_id,
        consumers: row.states,
      })),
      limit: query.limit,
      ...(rows.length > query.limit && last !== undefined && { nextCursor: encodeCursor(last.accepted_at, last.id) }),
    };
  }
}
