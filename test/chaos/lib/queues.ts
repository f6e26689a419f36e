import { connect, type ChannelModel } from 'amqplib';
import { encodeVhost, ManagementClient } from '../../../src/broker/management.ts';

export interface QueueStat {
  queue: string;
  /** `undefined` when the queue could not answer (its node down, a quorum queue electing a leader). */
  messages: number | undefined;
  consumers: number | undefined;
}

/**
 * Live queue depth and consumer counts by passive declare (the queue's own
 * answer, unlike the management API's, which lags by its statistics
 * interval: 5 to 10 s measured on 3.10). One connection, moved to the next
 * node when its node goes; each probe on a fresh channel, since a failed
 * passive declare closes it.
 */
export class QueueProbe {
  private connection: ChannelModel | undefined;
  private next = 0;

  constructor(private readonly urls: readonly string[]) {}

  async stats(queues: readonly string[]): Promise<QueueStat[]> {
    const connection = await this.connect();
    if (connection === undefined) return queues.map((queue) => ({ queue, messages: undefined, consumers: undefined }));
    return Promise.all(
      queues.map(async (queue) => {
        try {
          const channel = await connection.createChannel();
          channel.on('error', () => undefined);
          try {
            const answer = await withTimeout(channel.checkQueue(queue), 3_000);
            return { queue, messages: answer.messageCount, consumers: answer.consumerCount };
          } finally {
            // Not awaited: after a timeout the close would wait for the stuck declare.
            channel.close().catch(() => undefined);
          }
        } catch {
          return { queue, messages: undefined, consumers: undefined };
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    this.connection = undefined;
  }

  private async connect(): Promise<ChannelModel | undefined> {
    if (this.connection !== undefined) return this.connection;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const url = this.urls[this.next % this.urls.length] as string;
      this.next++;
      try {
        const connection = await connect(url, { timeout: 3_000 });
        connection.on('error', () => undefined);
        connection.on('close', () => {
          if (this.connection === connection) this.connection = undefined;
        });
        this.connection = connection;
        return connection;
      } catch {
        // that node is down: try the next
      }
    }
    return undefined;
  }
}

/** Consumer counts as the management API shows them (any node answering); `undefined` for a queue it does not list. */
export async function managementConsumerCounts(managementUrls: readonly string[], vhost: string, queues: readonly string[]): Promise<Map<string, number | undefined>> {
  const management = new ManagementClient(managementUrls);
  const listed = (await management.get<Array<{ name: string; consumers?: number }>>(`/queues/${encodeVhost(vhost)}?columns=name,consumers`)) ?? [];
  const byName = new Map(listed.map((q) => [q.name, q.consumers]));
  return new Map(queues.map((queue) => [queue, byName.get(queue)]));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
