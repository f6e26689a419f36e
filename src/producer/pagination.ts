import { z } from 'zod';
import { ApiError } from './http-errors.ts';

/**
 * Offset pagination for the producer's list routes (`GET /v1/jobs`,
 * `GET /v1/queues`), shaped like the DLQ listing: `?limit&offset` in,
 * `{total, offset, limit, nextOffset?}` out. The hard maximum is the
 * route's bound on the size of one response; the default is that maximum,
 * so a small topology still comes back in one page.
 */
export interface PageLimits {
  /** Largest (and default) page size. */
  max: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
  /** Where the next page starts; absent on the last page. */
  nextOffset?: number;
}

/** The query schema of a paginated route; unknown parameters are refused. */
export function pageQuery(limits: PageLimits) {
  return z.strictObject({
    limit: z.coerce.number().int().min(1).max(limits.max).default(limits.max),
    offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  });
}

/** Parses `?limit&offset`; a 400 naming each bad parameter otherwise. */
export function parsePageQuery(schema: ReturnType<typeof pageQuery>, query: unknown): { limit: number; offset: number } {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }));
    throw new ApiError(400, 'INVALID_QUERY', 'invalid query parameters', details);
  }
  return parsed.data;
}

/** Pure: one page of `all`. */
export function pageOf<T>(all: readonly T[], query: { limit: number; offset: number }): Page<T> {
  const items = all.slice(query.offset, query.offset + query.limit);
  const next = query.offset + items.length;
  return { items, total: all.length, offset: query.offset, limit: query.limit, ...(next < all.length && { nextOffset: next }) };
}
