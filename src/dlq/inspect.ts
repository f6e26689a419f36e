import { DEFAULT_PAGE_SIZE } from './bounds.ts';
import type { DlqBroker } from './broker.ts';
import { describeDeadLetter } from './dead-letter.ts';
import { isEmptySelection, matchesSelection, type Selection } from './filter.ts';
import { GroupCounter, PageCollector, pageOf, toListed, type DlqListing, type ListedMessage } from './report.ts';

export interface ListOptions {
  /** Messages to show. The CLI and HTTP bound it by `MAX_PAGE_SIZE`; in-process callers may ask for more. @defaultValue 20 */
  limit?: number;
  /** Skip this many messages before showing. @defaultValue 0 */
  offset?: number;
  /** Groups to show, largest first. @defaultValue 20 */
  groupLimit?: number;
  /** Skip this many groups. @defaultValue 0 */
  groupOffset?: number;
  /** Only the messages it selects are paged (and counted in `matched`); the groups still cover the whole queue. */
  selection?: Selection;
  /** Stops reading (client gone): the listing covers what was read. */
  signal?: AbortSignal;
}

/**
 * `dlq list`: counts and groups every message, shows a page of the groups
 * and a page of the messages, and leaves the queue as it was — each message
 * is taken with `basic.get`, held unacked and given back in place when the
 * channel closes (same count, same order; RabbitMQ marks them
 * `redelivered`). Every text shown is clipped (bounds.ts).
 */
export async function listDeadLetters(broker: DlqBroker, queue: string, options: ListOptions = {}): Promise<DlqListing> {
  const depth = await broker.depth(queue);
  const channel = await broker.openChannel(queue);
  const groups = new GroupCounter();
  const messages = new PageCollector<ListedMessage>({ offset: options.offset ?? 0, limit: options.limit ?? DEFAULT_PAGE_SIZE });
  const selection = options.selection !== undefined && !isEmptySelection(options.selection) ? options.selection : undefined;
  let scanned = 0;
  let matched = 0;
  try {
    while (scanned < depth && options.signal?.aborted !== true) {
      const message = await channel.take(queue);
      if (message === false) break;
      const view = describeDeadLetter(message);
      groups.add(view);
      if (selection !== undefined && !matchesSelection(selection, view, message.properties.headers)) {
        scanned++;
        continue;
      }
      matched++;
      messages.offer(() => toListed(view));
      scanned++;
    }
  } finally {
    await channel.close();
  }
  const groupPage = { offset: options.groupOffset ?? 0, limit: options.groupLimit ?? DEFAULT_PAGE_SIZE };
  const allGroups = groups.result();
  const shownGroups = pageOf(allGroups, groupPage);
  const nextOffset = messages.nextOffset;
  return {
    queue,
    count: depth,
    groups: shownGroups.items,
    groupCount: allGroups.length,
    groupOffset: groupPage.offset,
    groupLimit: groupPage.limit,
    ...(shownGroups.nextOffset !== undefined && { nextGroupOffset: shownGroups.nextOffset }),
    ...(selection !== undefined && { matched }),
    messages: messages.items,
    offset: messages.page.offset,
    limit: messages.page.limit,
    ...(nextOffset !== undefined && { nextOffset }),
  };
}
