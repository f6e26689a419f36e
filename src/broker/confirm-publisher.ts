import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { DeadlineQueue } from '../deadline-queue.ts';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../errors.ts';
import type { BrokerConnection } from './connection.ts';

export interface ConfirmPublisherOptions {
  /** Confirm channels shared round-robin by all publishes. @defaultValue 4 */
  channels?: number;
  /** Publishes awaiting a confirm at once; beyond it `publish` fails fast. @defaultValue 10_000 */
  maxInFlight?: number;
  /** A confirm can never arrive on a dead connection. @defaultValue 5_000 */
  confirmTimeoutMs?: number;
}

export interface OutgoingMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  /** `messageId` is required: it ties a `basic.return` to its publish. */
  options: Options.Publish & { messageId: string };
}

const MISSING_EXCHANGE = /NOT_FOUND - no exchange '(.*)' in vhost/;
const CHANNEL_CLOSED = /^channel closed/i;

/** A publish to an exchange the broker does not have: unroutable, with a clearer message. */
export class MissingExchangeError extends UnroutableError {
  constructor(readonly exchange: string) {
    super(exchange, '');
    this.message = `the exchange "${exchange}" does not exist on the broker (is the topology applied?)`;
  }
}

interface PublisherSlot {
  wrapper: ChannelWrapper;
  /** The open confirm channel, while there is one. */
  channel: ConfirmChannel | undefined;
}

const DEFAULTS: Required<ConfirmPublisherOptions> = { channels: 4, maxInFlight: 10_000, confirmTimeoutMs: 5_000 };

/**
 * Publishes with `mandatory` on confirm channels and resolves only when the
 * broker has confirmed the message as persisted and routed. An unroutable
 * message rejects with `UnroutableError`, a nack with `PublishRejectedError`,
 * and no connection, a blocked connection, a full in-flight window or a
 * confirm timeout with `BrokerUnavailableError` — at once, never buffered
 * without bound.
 */
export class ConfirmPublisher {
  private readonly options: Required<ConfirmPublisherOptions>;
  private readonly slots: PublisherSlot[];
  /** Publishes whose message was returned, by message id, waiting for their confirm. */
  private readonly returned = new Map<string, number>();
  /** Exchanges a recent publish found missing (from the 404 channel error). */
  private readonly missingExchanges = new Set<string>();
  private next = 0;
  private inFlightCount = 0;
  private readonly confirmDeadlines: DeadlineQueue;
  private closed = false;

  constructor(
    private readonly connection: BrokerConnection,
    options: ConfirmPublisherOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.confirmDeadlines = new DeadlineQueue(this.options.confirmTimeoutMs, () => new BrokerUnavailableError(`no confirm within ${this.options.confirmTimeoutMs} ms`));
    this.slots = Array.from({ length: this.options.channels }, (_, index) => this.createSlot(index));
  }

  /** Publishes awaiting their confirm. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  async waitForConnect(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.wrapper.waitForConnect()));
  }

  /** Why a publish would fail fast right now, or `undefined` when it would be attempted. */
  unavailable(): BrokerUnavailableError | undefined {
    const state = this.connection.state;
    if (!state.connected) return new BrokerUnavailableError('not connected to the broker');
    if (state.blocked !== undefined) return new BrokerUnavailableError(`the broker blocked publishing (${state.blocked})`);
    if (this.inFlightCount >= this.options.maxInFlight) {
      return new BrokerUnavailableError(`${this.options.maxInFlight} publishes already await a confirm`);
    }
    return undefined;
  }

  /**
   * Publishes straight on an open confirm channel. The channel wrapper only
   * keeps the channels alive across reconnects: its own queue would buffer
   * publishes while disconnected and resend them after a reconnect, so a
   * job answered 503 could still be enqueued later. Here a publish either
   * gets its confirm, or fails now and is never sent again.
   */
  publish(message: OutgoingMessage): Promise<void> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) return Promise.reject(unavailable);
    const channel = this.openChannel();
    if (channel === undefined) return Promise.reject(new BrokerUnavailableError('no open publishing channel (reconnecting)'));
    return new Promise<void>((resolve, reject) => {
      this.inFlightCount++;
      let settled = false;
      const settle = (error: Error | undefined) => {
        if (settled) return;
        settled = true;
        this.confirmDeadlines.done(deadline);
        this.inFlightCount--;
        const returned = this.takeReturned(message.options.messageId);
        if (error !== undefined) reject(error);
        else if (returned) reject(new UnroutableError(message.exchange, message.routingKey));
        else {
          this.missingExchanges.delete(message.exchange);
          resolve();
        }
      };
      const deadline = this.confirmDeadlines.start((error) => settle(error));
      try {
        channel.publish(message.exchange, message.routingKey, message.content, { ...message.options, mandatory: true }, (error) =>
          settle(error ? this.translate(error, message.exchange) : undefined),
        );
      } catch (error) {
        settle(this.translate(error, message.exchange));
      }
    });
  }

  /** Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.slots.map((slot) => slot.wrapper.close()));
  }

  /** The next open channel, round-robin. */
  private openChannel(): ConfirmChannel | undefined {
    for (let tried = 0; tried < this.slots.length; tried++) {
      const slot = this.slots[this.next++ % this.slots.length];
      if (slot?.channel !== undefined) return slot.channel;
    }
    return undefined;
  }

  private createSlot(index: number): PublisherSlot {
    const slot: PublisherSlot = { wrapper: undefined as unknown as ChannelWrapper, channel: undefined };
    slot.wrapper = this.connection.manager.createChannel({
      name: `warren-publisher-${index}`,
      confirm: true,
      json: false,
      setup: async (channel: ConfirmChannel) => {
        slot.channel = channel;
        // The broker sends basic.return before the confirm of the same
        // message, so marking it here is seen by the confirm callback.
        channel.on('return', (message: ConsumeMessage) => this.markReturned(message));
        // A channel error (publishing to a missing exchange: 404) closes the
        // channel but not the connection. amqp-connection-manager only
        // reopens channels on reconnect, so replace the slot's wrapper.
        let failed = false;
        channel.on('error', (error: Error) => {
          failed = true;
          const missing = MISSING_EXCHANGE.exec(error.message);
          if (missing?.[1] !== undefined) this.missingExchanges.add(missing[1]);
        });
        channel.once('close', () => {
          if (slot.channel === channel) slot.channel = undefined;
          if (failed) this.replaceSlot(index, slot);
        });
      },
    });
    // A setup cut short (the connection closing while the channel opens, as
    // when a producer is closed right after it connected) is emitted as
    // 'error' on the wrapper, which would crash the process unheard; the
    // wrapper sets the channel up again on the next connection by itself.
    slot.wrapper.on('error', () => undefined);
    return slot;
  }

  private replaceSlot(index: number, failed: PublisherSlot): void {
    if (this.closed || this.slots[index] !== failed) return;
    this.slots[index] = this.createSlot(index);
    void failed.wrapper.close().catch(() => undefined);
  }

  private markReturned(message: ConsumeMessage): void {
    const id = message.properties.messageId as string | undefined;
    if (id !== undefined) this.returned.set(id, (this.returned.get(id) ?? 0) + 1);
  }

  private takeReturned(id: string): boolean {
    const count = this.returned.get(id);
    if (count === undefined) return false;
    if (count <= 1) this.returned.delete(id);
    else this.returned.set(id, count - 1);
    return true;
  }

  private translate(error: unknown, exchange: string): Error {
    const message = error instanceof Error ? error.message : String(error);
    if (CHANNEL_CLOSED.test(message) && this.missingExchanges.has(exchange)) {
      return new MissingExchangeError(exchange);
    }
    if (/nack/i.test(message)) return new PublishRejectedError('the broker refused the message (nack)');
    if (error instanceof Error && (!this.connection.state.connected || CHANNEL_CLOSED.test(message))) {
      return new BrokerUnavailableError('the channel closed before the confirm', { cause: error });
    }
    return error instanceof Error ? error : new Error(message);
  }
}
