import type { DlqBroker } from './broker.ts';
import { describeDeadLetter } from './dead-letter.ts';
import { isEmptySelection, matchesSelection, type Selection } from './filter.ts';
import type { PurgeSummary } from './report.ts';

/**
 * `dlq purge`: without a filter, `queue.purge` (everything ready now); with
 * one, each message present at the start is looked at, matching ones are
 * acked (deleted) and the rest held and given back in place.
 */
export async function purgeDeadLetters(broker: DlqBroker, queue: string, selection: Selection): Promise<PurgeSummary> {
  const depth = await broker.depth(queue);
  const channel = await broker.openChannel();
  try {
    if (isEmptySelection(selection)) return { queue, purged: await channel.purge(queue), kept: 0 };
    let purged = 0;
    let scanned = 0;
    while (scanned < depth) {
      const message = await channel.take(queue);
      if (message === false) break;
      scanned++;
      if (matchesSelection(selection, describeDeadLetter(message), message.properties.headers)) {
        channel.ack(message);
        purged++;
      }
    }
    return { queue, purged, kept: depth - purged };
  } finally {
    await channel.close();
  }
}
