import type { DlqBroker } from './broker.ts';
import { describeDeadLetter } from './dead-letter.ts';
import { GroupCounter, toListed, type DlqListing, type ListedMessage } from './report.ts';

export interface ListOptions {
  /** Messages to show in full. @defaultValue 20 */
  limit?: number;
  /** Skip this many before showing (HTTP pagination). @defaultValue 0 */
  offset?: number;
}

/**
 * `dlq list`: counts and groups every message, shows a page of them, and
 * leaves the queue as it was — each message is taken with `basic.get`, held
 * unacked and given back in place when the channel closes (same count, same
 * order; RabbitMQ marks them `redelivered`).
 */
export async function listDeadLetters(broker: DlqBroker, queue: string, options: ListOptions = {}): Promise<DlqListing> {
  const limit = options.limit ?? 20;
  const offset = options.offset ?? 0;
  const depth = await broker.depth(queue);
  const channel = await broker.openChannel();
  const groups = new GroupCounter();
  const messages: ListedMessage[] = [];
  let scanned = 0;
  try {
    while (scanned < depth) {
      const message = await channel.take(queue);
      if (message === false) break;
      const view = describeDeadLetter(message);
      groups.add(view);
      if (scanned >= offset && messages.length < limit) messages.push(toListed(view));
      scanned++;
    }
  } finally {
    await channel.close();
  }
  return { queue, count: depth, groups: groups.result(), messages };
}
