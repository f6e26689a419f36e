import type { ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from './connection.ts';
import { redactText } from './urls.ts';

/** One delivery, bound to the channel it arrived on. */
export interface Delivery {
  queue: string;
  message: ConsumeMessage;
  /** False when that channel is gone: the broker will redeliver the message. */
  ack(): boolean;
  nack(requeue: boolean): boolean;
}

export interface ConsumerChannelOptions {
  name: string;
  queues: readonly string[];
  /** `basic.qos` per consumer (each queue gets this many unacked). */
  prefetch: number;
}

/**
 * A self-healing consuming channel: `basic.qos`, then a manual-ack
 * `basic.consume` on every queue, redone after each reconnect. Delivery tags
 * belong to one channel, so every delivery settles on the channel that
 * delivered it; after a reconnect, late settles of old deliveries are
 * dropped (the broker already requeued them) instead of acking a stranger
 * on the new channel.
 */
export class ConsumerChannel {
  private readonly wrapper: ChannelWrapper;
  private current: { channel: Channel; open: boolean; tags: string[] } | undefined;
  private cancelled = false;
  private readonly ready: Promise<void>;

  constructor(
    connection: BrokerConnection,
    private readonly options: ConsumerChannelOptions,
    private readonly onDelivery: (delivery: Delivery) => void,
    onError: (message: string) => void = () => undefined,
  ) {
    let markReady: () => void = () => undefined;
    let markFailed: (error: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    this.ready.catch(() => undefined);
    this.wrapper = connection.manager.createChannel({
      name: options.name,
      confirm: false,
      setup: async (channel: Channel) => {
        await this.subscribe(channel);
        markReady();
      },
    });
    this.wrapper.on('error', (error: Error) => {
      const message = redactText(error.message);
      onError(message);
      markFailed(new Error(`consumer ${options.name}: ${message}`));
    });
  }

  /** Resolves once consuming, rejects if the first setup fails (e.g. a missing queue). */
  async waitForConsuming(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`consumer ${this.options.name}: not consuming after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops deliveries (basic.cancel) and keeps them stopped across reconnects. Unacked ones can still be settled. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    const live = this.current;
    if (live === undefined || !live.open) return;
    await Promise.allSettled(live.tags.map((tag) => live.channel.cancel(tag)));
  }

  /** Closes the channel; unsettled deliveries go back to their queues. */
  async close(): Promise<void> {
    this.cancelled = true;
    await this.wrapper.close().catch(() => undefined);
  }

  private async subscribe(channel: Channel): Promise<void> {
    const live = { channel, open: true, tags: [] as string[] };
    this.current = live;
    channel.once('close', () => {
      live.open = false;
    });
    if (this.cancelled) return;
    await channel.prefetch(this.options.prefetch, false);
    for (const queue of this.options.queues) {
      const { consumerTag } = await channel.consume(
        queue,
        (message) => {
          // null = the broker cancelled us (queue deleted); a reconnect resubscribes.
          if (message !== null) this.onDelivery(bindDelivery(live, queue, message));
        },
        { noAck: false },
      );
      live.tags.push(consumerTag);
    }
  }
}

function bindDelivery(live: { channel: Channel; open: boolean }, queue: string, message: ConsumeMessage): Delivery {
  let settled = false;
  const settle = (action: (channel: Channel) => void): boolean => {
    if (settled || !live.open) return false;
    settled = true;
    try {
      action(live.channel);
      return true;
    } catch {
      return false;
    }
  };
  return {
    queue,
    message,
    ack: () => settle((channel) => channel.ack(message)),
    nack: (requeue) => settle((channel) => channel.nack(message, false, requeue)),
  };
}
