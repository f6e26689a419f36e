import type { Channel, Message } from 'amqplib';

/**
 * Takes every message the queue holds now off it (destructive), in order.
 * Through a consumer, not basic.get: quorum queues with single-active-consumer
 * (the shards) refuse basic.get.
 */
export async function drainChannel(channel: Channel, queue: string, timeoutMs = 20_000): Promise<Message[]> {
  const { messageCount } = await channel.checkQueue(queue);
  const messages: Message[] = [];
  if (messageCount === 0) return messages;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`drain ${queue}: got ${messages.length} of ${messageCount}`)), timeoutMs);
    channel
      .consume(
        queue,
        (message) => {
          if (message === null) return;
          messages.push(message);
          if (messages.length === messageCount) {
            clearTimeout(timer);
            resolve();
          }
        },
        { noAck: true },
      )
      .catch(reject);
  });
  return messages;
}
