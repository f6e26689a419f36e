import type { TopologyPlan } from '../topology/plan.ts';
import { DlqBroker } from './broker.ts';
import { urlsForVhost } from '../broker/vhost.ts';
import { assertDeadLetterQueue } from './target.ts';

/** Where DLQ commands run: the broker URLs and, when known, the topology whose DLQs they may touch. */
export interface DlqContext {
  amqpUrls: string[];
  plan?: TopologyPlan | undefined;
}

/**
 * Checks the queue is a DLQ (before connecting: a wrong name touches
 * nothing), opens a short-lived connection for one command and always
 * closes it, which also gives back every message still held.
 */
export async function withDeadLetterQueue<T>(context: DlqContext, queue: string, run: (broker: DlqBroker) => Promise<T>): Promise<T> {
  assertDeadLetterQueue(queue, context.plan);
  const broker = await DlqBroker.open(urlsForVhost(context.plan, context.amqpUrls));
  try {
    return await run(broker);
  } finally {
    await broker.close();
  }
}
