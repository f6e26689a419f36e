import { clipText, FIELD_BYTES, MAX_FAILURE_REASONS, MAX_GROUPS, MAX_LISTED_FAILURES, type Page } from './bounds.ts';
import type { DeadLetterView, Origin } from './dead-letter.ts';

/**
 * Pure: the shape of `dlq list --json` (DESIGN.md, plus pagination) and of
 * the replay / purge summaries, every text in them clipped (bounds.ts), plus
 * the text the CLI prints for people.
 */

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
  origin: Origin | null;
  payloadPreview: string;
}

export interface DlqListing {
  queue: string;
  /** Messages in the queue when the pass started. */
  count: number;
  /** One page of the groups, largest first. */
  groups: DlqGroup[];
  /** Distinct groups in the whole queue (the overflow group counts as one). */
  groupCount: number;
  groupOffset: number;
  groupLimit: number;
  /** Set when there are more groups after this page. */
  nextGroupOffset?: number;
  /** With a filter: how many messages it selected (the messages page is of those). */
  matched?: number;
  /** One page of the messages, in queue order. */
  messages: ListedMessage[];
  offset: number;
  limit: number;
  /** Set when there are more messages after this page. */
  nextOffset?: number;
}

export interface ReplayTargetView {
  exchange: string;
  routingKey: string;
  /**
   * `consumer` (derived from the topology), `queue` (a plain quorum queue's
   * DLQ), `group` (a stream group's DLQ: back into the stream, each record to
   * its partition `p<n>`, for that group only), `to` (explicit).
   */
  kind: 'consumer' | 'queue' | 'group' | 'to';
  /** `group`: the consumer group the records are replayed for. */
  group?: string;
}

export interface FailureCount {
  reason: string;
  count: number;
}

export interface ReplaySummary {
  queue: string;
  dryRun: boolean;
  /** Where the replayed messages go (the same for every message of the pass). */
  target: ReplayTargetView;
  /** Messages looked at in this pass. */
  scanned: number;
  /** Republished and confirmed, then acked from the DLQ (or, on a dry run, would be). */
  replayed: number;
  /** Not selected (filter or limit): left in the DLQ, in order. */
  skipped: number;
  /** Selected but not replayed (refused, unroutable, nacked, target missing, channel closed): left in the DLQ. */
  failed: number;
  /** The first failures, one by one. */
  failures: Array<{ id: string | null; reason: string }>;
  /** Every failure counted by reason (the most common reasons). */
  failedByReason: FailureCount[];
  /** Dry run: one page of what would be replayed. */
  wouldReplay?: Array<{ id: string | null; jobType: string | null }>;
  listOffset?: number;
  listLimit?: number;
  nextListOffset?: number;
  elapsedMs: number;
  /** Set when the pass stopped early (client gone, connection lost); unreplayed messages are in the DLQ. */
  error?: string;
}

export interface PurgeSummary {
  queue: string;
  dryRun: boolean;
  /** Deleted (or, on a dry run, would be). */
  purged: number;
  /** Looked at and kept (not selected). */
  kept: number;
  /** Dry run: one page of what would be deleted. */
  wouldPurge?: Array<{ id: string | null; jobType: string | null }>;
  listOffset?: number;
  listLimit?: number;
  nextListOffset?: number;
  /** Set when the pass stopped early; nothing past that point was deleted. */
  error?: string;
}

/** The error that stands for every group past `MAX_GROUPS`. */
export const OVERFLOW_GROUP_ERROR = {
  class: '(other)',
  message: `more than ${MAX_GROUPS} distinct job type / error pairs; the rest are counted here`,
} as const;

/** Groups by job type and error (class + message), largest group first, ties in first-seen order. */
export function groupDeadLetters(views: Iterable<DeadLetterView>): DlqGroup[] {
  const counter = new GroupCounter();
  for (const view of views) counter.add(view);
  return counter.result();
}

/**
 * Keeps grouping counts incrementally, on clipped texts, so a 100k-message
 * scan holds neither every view nor more than `maxGroups` groups.
 */
export class GroupCounter {
  private readonly groups = new Map<string, DlqGroup>();
  private overflow: DlqGroup | undefined;

  constructor(private readonly maxGroups = MAX_GROUPS) {}

  add(view: DeadLetterView): void {
    const jobType = view.jobType === null ? null : clipText(view.jobType, FIELD_BYTES.jobType);
    const error = { class: clipText(view.error.class, FIELD_BYTES.errorClass), message: clipText(view.error.message, FIELD_BYTES.groupErrorMessage) };
    const key = JSON.stringify([jobType, error.class, error.message]);
    const group = this.groups.get(key);
    if (group) group.count++;
    else if (this.groups.size < this.maxGroups) this.groups.set(key, { jobType, error, count: 1 });
    else {
      this.overflow ??= { jobType: null, error: { ...OVERFLOW_GROUP_ERROR }, count: 0 };
      this.overflow.count++;
    }
  }

  /** Largest first (the overflow group too, after real groups of the same count); ties in first-seen order. */
  result(): DlqGroup[] {
    const all = this.overflow ? [...this.groups.values(), this.overflow] : [...this.groups.values()];
    return all.sort((a, b) => b.count - a.count);
  }
}

export function toListed(view: DeadLetterView): ListedMessage {
  return {
    id: clipNullable(view.id, FIELD_BYTES.id),
    jobType: clipNullable(view.jobType, FIELD_BYTES.jobType),
    attempts: view.attempts,
    error: { class: clipText(view.error.class, FIELD_BYTES.errorClass), message: clipText(view.error.message, FIELD_BYTES.errorMessage) },
    firstFailedAt: view.firstFailedAt,
    origin: view.origin === null ? null : { exchange: clipText(view.origin.exchange, FIELD_BYTES.exchange), routingKey: clipText(view.origin.routingKey, FIELD_BYTES.routingKey) },
    payloadPreview: clipText(view.payloadPreview, FIELD_BYTES.payloadPreview),
  };
}

/** A dry run's entry for one selected message. */
export function toSelected(view: DeadLetterView): { id: string | null; jobType: string | null } {
  return { id: clipNullable(view.id, FIELD_BYTES.id), jobType: clipNullable(view.jobType, FIELD_BYTES.jobType) };
}

/** Collects one page (`offset`, `limit`) out of a stream of items, and whether more follow. */
export class PageCollector<T> {
  readonly items: T[] = [];
  private seen = 0;
  constructor(readonly page: Page) {}
  offer(make: () => T): void {
    if (this.seen >= this.page.offset && this.items.length < this.page.limit) this.items.push(make());
    this.seen++;
  }
  /** The offset of the next page, when there is one. */
  get nextOffset(): number | undefined {
    const next = this.page.offset + this.items.length;
    return this.seen > next ? next : undefined;
  }
}

/** Slices a page out of a complete list. */
export function pageOf<T>(items: readonly T[], page: Page): { items: T[]; nextOffset?: number } {
  const slice = items.slice(page.offset, page.offset + page.limit);
  const next = page.offset + slice.length;
  return { items: slice, ...(next < items.length && slice.length > 0 && { nextOffset: next }) };
}

export function addFailure(summary: ReplaySummary, id: string | null, reason: string): void {
  summary.failed++;
  const clipped = clipText(reason, FIELD_BYTES.reason);
  if (summary.failures.length < MAX_LISTED_FAILURES) summary.failures.push({ id: clipNullable(id, FIELD_BYTES.id), reason: clipped });
  const known = summary.failedByReason.find((entry) => entry.reason === clipped);
  if (known) known.count++;
  else if (summary.failedByReason.length < MAX_FAILURE_REASONS - 1) summary.failedByReason.push({ reason: clipped, count: 1 });
  else {
    let other = summary.failedByReason.find((entry) => entry.reason === OTHER_REASONS);
    if (other === undefined) {
      other = { reason: OTHER_REASONS, count: 0 };
      summary.failedByReason.push(other);
    }
    other.count++;
  }
}

const OTHER_REASONS = '(other reasons)';

function clipNullable(text: string | null, max: number): string | null {
  return text === null ? null : clipText(text, max);
}

export function formatListing(listing: DlqListing): string {
  const lines = [`${listing.queue}: ${listing.count} message${listing.count === 1 ? '' : 's'}`];
  if (listing.groups.length > 0) {
    const last = listing.groupOffset + listing.groups.length;
    lines.push('', `COUNT  JOB TYPE / ERROR   (groups ${listing.groupOffset + 1}-${last} of ${listing.groupCount})`);
    for (const group of listing.groups) {
      lines.push(`${String(group.count).padStart(5)}  ${group.jobType ?? '(no type)'}  ${group.error.class}: ${group.error.message}`);
    }
    if (listing.nextGroupOffset !== undefined) lines.push(`  … more groups: --group-offset ${listing.nextGroupOffset}`);
  }
  if (listing.messages.length > 0) {
    lines.push('', `Messages ${listing.offset + 1}-${listing.offset + listing.messages.length}:`);
    for (const m of listing.messages) {
      const origin = m.origin ? `${m.origin.exchange || '(default)'} / ${m.origin.routingKey}` : '(unknown origin)';
      lines.push(
        `- ${m.id ?? '(no id)'}  ${m.jobType ?? '(no type)'}  attempts=${m.attempts ?? '?'}  first failed ${m.firstFailedAt ?? '?'}`,
        `    error: ${m.error.class}: ${m.error.message}`,
        `    origin: ${origin}`,
        `    payload: ${m.payloadPreview}`,
      );
    }
    if (listing.nextOffset !== undefined) lines.push(`  … more messages: --offset ${listing.nextOffset}`);
  }
  return lines.join('\n');
}

export function formatTarget(target: ReplayTargetView): string {
  if (target.group !== undefined) return `exchange ${target.exchange} (each record to its partition, for group ${target.group})`;
  return target.exchange === '' ? `queue ${target.routingKey}` : `exchange ${target.exchange}`;
}

export function formatReplaySummary(summary: ReplaySummary): string {
  const verb = summary.dryRun ? 'would replay' : 'replayed';
  const lines = [
    `${summary.queue}: ${verb} ${summary.replayed} to ${formatTarget(summary.target)}, skipped ${summary.skipped}, failed ${summary.failed} (scanned ${summary.scanned} in ${(summary.elapsedMs / 1000).toFixed(1)} s)`,
  ];
  for (const item of summary.wouldReplay ?? []) lines.push(`  ${item.id ?? '(no id)'}  ${item.jobType ?? '(no type)'}`);
  if (summary.nextListOffset !== undefined) lines.push(`  … more: --list-offset ${summary.nextListOffset}`);
  for (const failure of summary.failures) lines.push(`  failed ${failure.id ?? '(no id)'}: ${failure.reason}`);
  if (summary.failed > summary.failures.length) {
    lines.push(`  failures by reason: ${summary.failedByReason.map((entry) => `${entry.count} × ${entry.reason}`).join('; ')}`);
  }
  if (summary.error !== undefined) lines.push(`  stopped early: ${summary.error} (unreplayed messages are still in the DLQ; run replay again)`);
  return lines.join('\n');
}

export function formatPurgeSummary(summary: PurgeSummary): string {
  const lines = [`${summary.queue}: ${summary.dryRun ? 'would purge' : 'purged'} ${summary.purged}, kept ${summary.kept}`];
  for (const item of summary.wouldPurge ?? []) lines.push(`  ${item.id ?? '(no id)'}  ${item.jobType ?? '(no type)'}`);
  if (summary.nextListOffset !== undefined) lines.push(`  … more: --list-offset ${summary.nextListOffset}`);
  if (summary.error !== undefined) lines.push(`  stopped early: ${summary.error}`);
  return lines.join('\n');
}
