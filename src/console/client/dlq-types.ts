/** The shapes of the DLQ routes' answers (src/dlq/report.ts, src/dlq/message.ts), as far as the console reads them. */
export interface DlqGroup {
  jobType: string | null;
  error: { class: string; message: string };
  count: number;
}

export interface ListedMessage {
  id: string | null;
  jobType: string | null;
  attempts: number | null;
  error: { class: string; message: string };
  firstFailedAt: string | null;
  origin: { exchange: string; routingKey: string } | null;
  payloadPreview: string;
}

export interface DlqListing {
  queue: string;
  count: number;
  groups: DlqGroup[];
  groupCount: number;
  nextGroupOffset?: number;
  matched?: number;
  messages: ListedMessage[];
  offset: number;
  limit: number;
  nextOffset?: number;
}

export interface MessageDetail extends ListedMessage {
  failedAt: string | null;
  position: number;
  properties: { contentType: string | null; contentEncoding: string | null; correlationId: string | null; timestamp: string | null; deliveryMode: number | null; redelivered: boolean };
  headers: Record<string, unknown>;
  payload: string;
  payloadBytes: number;
  payloadTruncated: boolean;
}

export interface ReplaySummary {
  queue: string;
  dryRun: boolean;
  target: { exchange: string; routingKey: string; kind: string };
  scanned: number;
  replayed: number;
  skipped: number;
  failed: number;
  failedByReason: Array<{ reason: string; count: number }>;
  wouldReplay?: Array<{ id: string | null; jobType: string | null }>;
  elapsedMs: number;
  error?: string;
}

export interface PurgeSummary {
  queue: string;
  dryRun: boolean;
  purged: number;
  kept: number;
  wouldPurge?: Array<{ id: string | null; jobType: string | null }>;
  error?: string;
}

/** The filters that select one group: its job type and its error text ("Class: message", without a clipping ellipsis). */
export function groupFilters(group: DlqGroup): string[] {
  const error = `${group.error.class}: ${group.error.message}`.replace(/…$/, '');
  return [...(group.jobType === null ? [] : [`jobType=${group.jobType}`]), `error=${error}`];
}

/** `filter=a&filter=b` for the list route. */
export function filterQuery(filters: readonly string[]): string {
  return filters.map((filter) => `filter=${encodeURIComponent(filter)}`).join('&');
}
