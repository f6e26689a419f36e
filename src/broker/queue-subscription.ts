import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { AckCoalescer } from './ack-coalescer.ts';
import { redactText } from './urls.ts';

/** One delivery, bound to the channel it arrived on. */
export interface Delivery {
  queue: string;
  message: ConsumeMessage;
  /** False when that channel is gone: the broker will redeliver the message. */
  ack(): boolean;
  nack(requeue: boolean): boolean;
}

/** Where one queue's subscription stands, for health checks. */
export interface SubscriptionStatus {
  queue: string;
  subscribed: boolean;
  /** Why it is not subscribed (the latest failure), while it is not. */
  reason: string | undefined;
  /** Since when it is in this state. */
  since: Date;
}

export interface QueueSubscriptionHooks {
  /** The live AMQP connection, or `undefined` while reconnecting. */
  connection(): ChannelModel | undefined;
  prefetch: number;
  backoff: BackoffOptions;
  onDelivery(delivery: Delivery): void;
  /** Subscribed; `again` after a loss, with how long it was gone. */
  onSubscribed(info: { queue: string; again: boolean; downtimeMs: number }): void;
  /** Was subscribed and is not any more (broker cancel, channel or connection lost). */
  onLost(info: { queue: string; reason: string }): void;
  /** A re-subscribe attempt failed; the next one runs in `retryInMs`. */
  onRetryFailed(info: { queue: string; reason: string; failures: number; retryInMs: number }): void;
}

type Phase = 'idle' | 'subscribing' | 'subscribed' | 'waiting' | 'stopped';

interface LiveChannel {
  channel: Channel;
  open: boolean;
  /** Acks waiting for the end of this event-loop turn, to go out coalesced. */
  acks: AckCoalescer;
  flushScheduled: boolean;
  /** The error that closed it, if the broker closed it. */
  error: string | undefined;
}

/** One `basic.consume`: its channel and consumer tag. `lost` is set once it ended. */
interface Consumption {
  live: LiveChannel;
  lost: string | undefined;
}

const CANCELLED = 'cancelled by the broker (queue deleted, its node down, or its leader moved)';

/**
 * Keeps one queue consumed, on a channel of its own, whatever the broker
 * does: a `basic.cancel` from the server (its queue deleted, the node of a
 * classic queue down, a quorum leader moved), a channel closed by an error,
 * or the connection lost all end the subscription, and it comes back with
 * capped exponential backoff once the queue exists again. It never declares
 * the queue: that is `topology apply`'s job (see the README).
 *
 * A channel per queue keeps one queue's 404 from closing its siblings. The
 * channel outlives a server cancel, so jobs still running can ack on it;
 * whether the queue exists is asked on a throwaway channel first, because a
 * passive declare of a missing queue closes the channel it runs on.
 */
export class QueueSubscription {
  private phase: Phase = 'idle';
  private live: LiveChannel | undefined;
  private current: Consumption | undefined;
  private currentTag: string | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private everSubscribed = false;
  private lostAt: number | undefined;
  private reason: string | undefined = 'not subscribed yet';
  private since = new Date();

  constructor(
    readonly queue: string,
    private readonly hooks: QueueSubscriptionHooks,
  ) {}

  get status(): SubscriptionStatus {
    return { queue: this.queue, subscribed: this.phase === 'subscribed', reason: this.reason, since: this.since };
  }

  /**
   * The first attempt: resolves once subscribed, rejects with the reason
   * when it fails (a missing queue means the topology is not applied). It
   * goes on retrying in the background until `stop()`.
   */
  async start(): Promise<void> {
    if (!(await this.attempt())) throw new Error(`cannot consume from "${this.queue}": ${this.reason ?? 'unknown reason'}`);
  }

  /** The connection is back: retry now instead of at the end of the backoff. */
  wake(): void {
    if (this.phase !== 'waiting') return;
    this.failures = 0;
    void this.attempt();
  }

  /** `basic.cancel`, and no more re-subscribing. Unsettled deliveries can still be settled. */
  async stop(): Promise<void> {
    this.phase = 'stopped';
    this.clearTimer();
    const consumption = this.current;
    const tag = this.currentTag;
    if (consumption !== undefined && tag !== undefined && consumption.live.open) {
      await consumption.live.channel.cancel(tag).catch(() => undefined);
    }
  }

  /** Stops, then closes the channel: unsettled deliveries go back to the queue. */
  async close(): Promise<void> {
    await this.stop();
    const live = this.live;
    this.live = undefined;
    if (live?.open) await live.channel.close().catch(() => undefined);
  }

  /** One try; true when subscribed. A failure schedules the next try. */
  private async attempt(): Promise<boolean> {
    this.clearTimer();
    if (this.phase === 'stopped' || this.phase === 'subscribing') return false;
    if (this.phase === 'subscribed') return true;
    this.phase = 'subscribing';
    let consumption: Consumption;
    let tag: string;
    try {
      ({ consumption, tag } = await this.subscribe());
    } catch (error) {
      if (this.isStopped()) return false;
      this.failed(error instanceof Error ? redactText(error.message) : String(error));
      return false;
    }
    if (this.isStopped()) {
      await consumption.live.channel.cancel(tag).catch(() => undefined);
      return false;
    }
    if (consumption.lost !== undefined) {
      this.failed(consumption.lost);
      return false;
    }
    const again = this.everSubscribed;
    const downtimeMs = this.lostAt === undefined ? 0 : Date.now() - this.lostAt;
    this.current = consumption;
    this.currentTag = tag;
    this.phase = 'subscribed';
    this.everSubscribed = true;
    this.failures = 0;
    this.lostAt = undefined;
    this.reason = undefined;
    this.since = new Date();
    this.hooks.onSubscribed({ queue: this.queue, again, downtimeMs });
    return true;
  }

  /** `stop()` may run while an attempt awaits the broker. */
  private isStopped(): boolean {
    return this.phase === 'stopped';
  }

  private async subscribe(): Promise<{ consumption: Consumption; tag: string }> {
    const model = this.hooks.connection();
    if (model === undefined) throw new Error('not connected to the broker');
    await this.checkQueueExists(model);
    const live = await this.channel(model);
    const consumption: Consumption = { live, lost: undefined };
    const { consumerTag } = await live.channel.consume(
      this.queue,
      (message) => {
        // amqplib hands the callback `null` when the server cancels the consumer.
        if (message === null) this.lose(consumption, CANCELLED);
        else this.hooks.onDelivery(bindDelivery(live, this.queue, message));
      },
      { noAck: false },
    );
    if (consumption.lost !== undefined) throw new Error(consumption.lost);
    return { consumption, tag: consumerTag };
  }

  /** A passive declare on a throwaway channel: a 404 closes that one, not ours. */
  private async checkQueueExists(model: ChannelModel): Promise<void> {
    const probe = await model.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkQueue(this.queue);
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  /** This queue's channel: the open one, else a new one with our prefetch. */
  private async channel(model: ChannelModel): Promise<LiveChannel> {
    if (this.live?.open) return this.live;
    const channel = await model.createChannel();
    const live: LiveChannel = { channel, open: true, error: undefined, acks: new AckCoalescer(), flushScheduled: false };
    // amqplib emits 'error' when the broker closes a channel; unheard, it would throw.
    channel.on('error', (error: Error) => {
      live.error = redactText(error.message);
    });
    channel.once('close', () => {
      live.open = false;
      if (this.live === live) this.live = undefined;
      if (this.current?.live === live) this.lose(this.current, live.error ?? 'channel closed (connection lost?)');
    });
    await channel.prefetch(this.hooks.prefetch, false);
    this.live = live;
    return live;
  }

  private lose(consumption: Consumption, reason: string): void {
    if (consumption.lost !== undefined) return;
    consumption.lost = reason;
    if (this.current !== consumption) return;
    this.current = undefined;
    this.currentTag = undefined;
    if (this.phase !== 'subscribed') return;
    this.phase = 'waiting';
    this.reason = reason;
    this.since = new Date();
    this.lostAt = Date.now();
    this.hooks.onLost({ queue: this.queue, reason });
    this.schedule();
  }

  private failed(reason: string): void {
    this.failures++;
    if (this.phase !== 'waiting') this.since = new Date();
    this.phase = 'waiting';
    this.reason = reason;
    this.lostAt ??= Date.now();
    const retryInMs = this.schedule();
    this.hooks.onRetryFailed({ queue: this.queue, reason, failures: this.failures, retryInMs });
  }

  private schedule(): number {
    this.clearTimer();
    const delay = backoffDelay(this.failures + 1, this.hooks.backoff);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, delay);
    return delay;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function bindDelivery(live: LiveChannel, queue: string, message: ConsumeMessage): Delivery {
  const tag = message.fields.deliveryTag;
  live.acks.received(tag);
  let settled = false;
  return {
    queue,
    message,
    // Acks of one event-loop turn go out together (see AckCoalescer): the
    // jobs of a batch, or of one socket read, cost one frame, not one each.
    ack: () => {
      if (settled || !live.open) return false;
      settled = true;
      live.acks.ready(tag);
      scheduleAckFlush(live);
      return true;
    },
    nack: (requeue) => {
      if (settled || !live.open) return false;
      settled = true;
      // Leaves the outstanding set before any later multiple ack is computed, and goes out first.
      live.acks.removed(tag);
      try {
        live.channel.nack(message, false, requeue);
        return true;
      } catch {
        return false;
      }
    },
  };
}

function scheduleAckFlush(live: LiveChannel): void {
  if (live.flushScheduled) return;
  live.flushScheduled = true;
  setImmediate(() => {
    live.flushScheduled = false;
    const plan = live.acks.flush();
    // A channel closed meanwhile took its unacked deliveries back to the queue: nothing to send.
    if (!live.open) return;
    try {
      if (plan.upTo !== undefined) live.channel.ack(ackable(plan.upTo), true);
      for (const single of plan.singles) live.channel.ack(ackable(single), false);
    } catch {
      // The channel broke while writing: the broker requeues what was not acked.
    }
  });
}

/** amqplib acks by a message's delivery tag only. */
function ackable(deliveryTag: number): ConsumeMessage {
  return { fields: { deliveryTag } } as ConsumeMessage;
}
