import type { TopologyPlan } from '../topology/plan.ts';
import { DlqBroker } from './broker.ts';
import { urlsForVhost } from '../broker/vhost.ts';
import { ReplayPublisher } from './replay-publisher.ts';
import type { OpenPublisher } from './replay.ts';
import { assertDeadLetterQueue } from './target.ts';

/** Where DLQ commands run: the broker URLs and, when known, the topology whose DLQs they may touch. */
export interface DlqContext {
  amqpUrls: string[];
  plan?: TopologyPlan | undefined;
}

/** What one command gets: the holding side, and a way to open the publishing side (replay only). */
export interface DlqSession {
  broker: DlqBroker;
  openPublisher: OpenPublisher;
}

/**
 * Checks the queue is a DLQ (before connecting: a wrong name touches
 * nothing), opens a short-lived connection for one command and always
 * closes it, which also gives back every message still held.
 */
export async function withDeadLetterQueue<T>(context: DlqContext, queue: string, run: (session: DlqSession) => Promise<T>): Promise<T> {
  assertDeadLetterQueue(queue, context.plan);
  const urls = urlsForVhost(context.plan, context.amqpUrls);
  // A DLQ is never a stream queue; stream partitions are left out of the lookup.
  const queueTypes = new Map(
    (context.plan?.queues ?? []).flatMap((plan) => (plan.type === 'stream' ? [] : [[plan.name, plan.type] as const])),
  );
  const broker = await DlqBroker.open(urls, { queueTypes });
  try {
    return await run({ broker, openPublisher: () => ReplayPublisher.open(urls) });
  } finally {
    await broker.close();
  }
}
