import type { BackoffOptions } from './backoff.ts';
import type { BrokerConnection, ConnectionState } from './connection.ts';
import { QueueSubscription, type Delivery, type QueueSubscriptionHooks, type SubscriptionStatus } from './queue-subscription.ts';

export type { Delivery, SubscriptionStatus } from './queue-subscription.ts';

export interface ConsumerChannelOptions {
  name: string;
  queues: readonly string[];
  /** `basic.qos` per consumer (each queue gets this many unacked). */
  prefetch: number;
  /** Waits between re-subscribe attempts. */
  backoff: BackoffOptions;
}

/** What a consumer hears: deliveries, and each queue's subscription coming and going. */
export type ConsumerChannelHandlers = Pick<QueueSubscriptionHooks, 'onDelivery' | 'onSubscribed' | 'onLost' | 'onRetryFailed'>;

/**
 * A self-healing consumer of one or several queues (the shard queues of a
 * sharded consumer): a manual-ack `basic.consume` per queue, each on a
 * channel of its own, each re-subscribed on its own after a broker cancel,
 * a channel error or a reconnect. Delivery tags belong to one channel, so
 * every delivery settles on the channel that delivered it; after that
 * channel is gone, late settles are dropped (the broker already requeued
 * the message) instead of acking a stranger on a new channel.
 */
export class ConsumerChannel {
  private readonly subscriptions: QueueSubscription[];
  private readonly onState = (state: ConnectionState) => {
    if (state.connected) for (const subscription of this.subscriptions) subscription.wake();
  };

  constructor(
    private readonly connection: BrokerConnection,
    private readonly options: ConsumerChannelOptions,
    handlers: ConsumerChannelHandlers,
  ) {
    this.subscriptions = options.queues.map(
      (queue) =>
        new QueueSubscription(queue, {
          ...handlers,
          connection: () => connection.manager.connection,
          prefetch: options.prefetch,
          backoff: options.backoff,
        }),
    );
    connection.on('state', this.onState);
  }

  /** Each queue's subscription, in queue order. */
  get status(): SubscriptionStatus[] {
    return this.subscriptions.map((subscription) => subscription.status);
  }

  /**
   * Resolves once every queue is consumed; rejects if a first attempt fails
   * (e.g. a missing queue: the topology is not applied) or takes too long.
   */
  async waitForConsuming(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`consumer ${this.options.name}: not consuming after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.subscriptions.map((subscription) => subscription.start())), timeout]);
    } catch (error) {
      throw new Error(`consumer ${this.options.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops deliveries (basic.cancel) for good. Unacked ones can still be settled. */
  async cancel(): Promise<void> {
    this.connection.off('state', this.onState);
    await Promise.allSettled(this.subscriptions.map((subscription) => subscription.stop()));
  }

  /** Closes the channels; unsettled deliveries go back to their queues. */
  async close(): Promise<void> {
    this.connection.off('state', this.onState);
    await Promise.allSettled(this.subscriptions.map((subscription) => subscription.close()));
  }
}
