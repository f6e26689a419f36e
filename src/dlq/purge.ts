import { redactText } from '../broker/urls.ts';
import { DEFAULT_PAGE_SIZE, type Page } from './bounds.ts';
import type { DlqBroker } from './broker.ts';
import { describeDeadLetter } from './dead-letter.ts';
import { isEmptySelection, matchesSelection, type Selection } from './filter.ts';
import { PageCollector, toSelected, type PurgeSummary } from './report.ts';
import { recordDeadLetterEvent, type DlqHistory } from './history.ts';

export interface PurgeOptions {
  selection: Selection;
  /** Count and list what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Dry run: the page of the selection to list. @defaultValue offset 0, 20 items */
  list?: Page;
  /** Stops the pass (client gone): what was deleted stays deleted, the rest stays. */
  signal?: AbortSignal;
  /** Job history: each purged job gets a `purged` event (so even a purge of everything goes message by message). */
  history?: DlqHistory | undefined;
}

/**
 * `dlq purge`: without a filter, `queue.purge` (everything ready now); with
 * one (or on a dry run), each message present at the start is looked at,
 * matching ones are acked (deleted) and the rest held and given back in
 * place.
 */
export async function purgeDeadLetters(broker: DlqBroker, queue: string, options: PurgeOptions): Promise<PurgeSummary> {
  const depth = await broker.depth(queue);
  const dryRun = options.dryRun === true;
  const channel = await broker.openChannel(queue);
  const list = new PageCollector<{ id: string | null; jobType: string | null }>(options.list ?? { offset: 0, limit: DEFAULT_PAGE_SIZE });
  const summary: PurgeSummary = { queue, dryRun, purged: 0, kept: 0 };
  try {
    // queue.purge says how many, not which: with history on, each one is taken to be recorded.
    if (!dryRun && isEmptySelection(options.selection) && options.history === undefined) {
      summary.purged = await channel.purge(queue);
      return summary;
    }
    let scanned = 0;
    try {
      while (scanned < depth && channel.error === undefined) {
        if (options.signal?.aborted) {
          summary.error = 'the request was cancelled (client disconnected); nothing past this point was deleted';
          break;
        }
        const message = await channel.take(queue);
        if (message === false) break;
        scanned++;
        const view = describeDeadLetter(message);
        if (!matchesSelection(options.selection, view, message.properties.headers)) continue;
        if (dryRun) list.offer(() => toSelected(view));
        else {
          channel.ack(message);
          recordDeadLetterEvent(options.history, 'purged', queue, message);
        }
        summary.purged++;
      }
    } catch (error) {
      // The channel failed: every message not acked yet is back in the queue.
      summary.error = redactText(error instanceof Error ? error.message : String(error));
    }
    summary.kept = depth - summary.purged;
    if (channel.error && summary.error === undefined) summary.error = redactText(channel.error.message);
  } finally {
    await channel.close();
  }
  if (dryRun) {
    summary.wouldPurge = list.items;
    summary.listOffset = list.page.offset;
    summary.listLimit = list.page.limit;
    if (list.nextOffset !== undefined) summary.nextListOffset = list.nextOffset;
  }
  return summary;
}
