import type { DeadLetterView, Origin } from './dead-letter.ts';

/**
 * Pure: the shape of `dlq list --json` (DESIGN.md) and of the replay / purge
 * summaries, plus the text the CLI prints for people.
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
  count: number;
  groups: DlqGroup[];
  messages: ListedMessage[];
}

export interface ReplaySummary {
  queue: string;
  dryRun: boolean;
  /** Messages looked at in this pass. */
  scanned: number;
  /** Republished and confirmed, then acked from the DLQ (or, on a dry run, would be). */
  replayed: number;
  /** Not selected (filter or limit): left in the DLQ, in order. */
  skipped: number;
  /** Selected but not replayed (no origin, unroutable, nacked): left in the DLQ. */
  failed: number;
  failures: Array<{ id: string | null; reason: string }>;
  /** Dry run: what would be replayed, and where to. */
  wouldReplay?: Array<{ id: string | null; jobType: string | null; to: Origin }>;
  elapsedMs: number;
  /** Set when the pass stopped early (channel or connection lost); unacked messages are back in the DLQ. */
  error?: string;
}

export interface PurgeSummary {
  queue: string;
  purged: number;
  kept: number;
}

const MAX_LISTED_FAILURES = 100;

/** Groups by job type and error (class + message), largest group first, ties in first-seen order. */
export function groupDeadLetters(views: Iterable<DeadLetterView>): DlqGroup[] {
  const counter = new GroupCounter();
  for (const view of views) counter.add(view);
  return counter.result();
}

/** Keeps grouping counts incrementally, so a 100k-message scan never holds every view. */
export class GroupCounter {
  private readonly groups = new Map<string, DlqGroup>();
  add(view: DeadLetterView): void {
    const key = JSON.stringify([view.jobType, view.error.class, view.error.message]);
    const group = this.groups.get(key);
    if (group) group.count++;
    else this.groups.set(key, { jobType: view.jobType, error: { ...view.error }, count: 1 });
  }
  result(): DlqGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count);
  }
}

export function toListed(view: DeadLetterView): ListedMessage {
  return {
    id: view.id,
    jobType: view.jobType,
    attempts: view.attempts,
    error: view.error,
    firstFailedAt: view.firstFailedAt,
    origin: view.origin,
    payloadPreview: view.payloadPreview,
  };
}

export function addFailure(summary: ReplaySummary, id: string | null, reason: string): void {
  summary.failed++;
  if (summary.failures.length < MAX_LISTED_FAILURES) summary.failures.push({ id, reason });
}

export function formatListing(listing: DlqListing): string {
  const lines = [`${listing.queue}: ${listing.count} message${listing.count === 1 ? '' : 's'}`];
  if (listing.groups.length > 0) {
    lines.push('', 'COUNT  JOB TYPE / ERROR');
    for (const group of listing.groups) {
      lines.push(`${String(group.count).padStart(5)}  ${group.jobType ?? '(no type)'}  ${group.error.class}: ${group.error.message}`);
    }
  }
  if (listing.messages.length > 0) {
    lines.push('', `First ${listing.messages.length}:`);
    for (const m of listing.messages) {
      const origin = m.origin ? `${m.origin.exchange || '(default)'} / ${m.origin.routingKey}` : '(unknown origin)';
      lines.push(
        `- ${m.id ?? '(no id)'}  ${m.jobType ?? '(no type)'}  attempts=${m.attempts ?? '?'}  first failed ${m.firstFailedAt ?? '?'}`,
        `    error: ${m.error.class}: ${m.error.message}`,
        `    origin: ${origin}`,
        `    payload: ${m.payloadPreview}`,
      );
    }
  }
  return lines.join('\n');
}

export function formatReplaySummary(summary: ReplaySummary): string {
  const verb = summary.dryRun ? 'would replay' : 'replayed';
  const lines = [
    `${summary.queue}: ${verb} ${summary.replayed}, skipped ${summary.skipped}, failed ${summary.failed} (scanned ${summary.scanned} in ${(summary.elapsedMs / 1000).toFixed(1)} s)`,
  ];
  for (const item of summary.wouldReplay ?? []) {
    lines.push(`  ${item.id ?? '(no id)'}  ${item.jobType ?? '(no type)'}  -> ${item.to.exchange || '(default)'} / ${item.to.routingKey}`);
  }
  for (const failure of summary.failures) lines.push(`  failed ${failure.id ?? '(no id)'}: ${failure.reason}`);
  if (summary.error !== undefined) lines.push(`  stopped early: ${summary.error} (unreplayed messages are still in the DLQ; run replay again)`);
  return lines.join('\n');
}
