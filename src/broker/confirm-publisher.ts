import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
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
  private readonly channels: ChannelWrapper[];
  /** Publishes whose message was returned, by message id, waiting for their confirm. */
  private readonly returned = new Map<string, number>();
  private next = 0;
  private inFlightCount = 0;

  constructor(
    private readonly connection: BrokerConnection,
    options: ConfirmPublisherOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.channels = Array.from({ length: this.options.channels }, (_, index) =>
      connection.manager.createChannel({
        name: `warren-publisher-${index}`,
        confirm: true,
        json: false,
        publishTimeout: this.options.confirmTimeoutMs,
        setup: async (channel: ConfirmChannel) => {
          // The broker sends basic.return before the confirm of the same
          // message, so marking it here is seen by the confirm callback.
          channel.on('return', (message: ConsumeMessage) => this.markReturned(message));
        },
      }),
    );
  }

  /** Publishes awaiting their confirm. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  async waitForConnect(): Promise<void> {
    await Promise.all(this.channels.map((channel) => channel.waitForConnect()));
  }

  async publish(message: OutgoingMessage): Promise<void> {
    this.assertCanPublish();
    const channel = this.channels[this.next++ % this.channels.length] as ChannelWrapper;
    this.inFlightCount++;
    try {
      await channel.publish(message.exchange, message.routingKey, message.content, {
        ...message.options,
        mandatory: true,
        timeout: this.options.confirmTimeoutMs,
      });
    } catch (error) {
      this.takeReturned(message.options.messageId);
      throw this.translate(error);
    } finally {
      this.inFlightCount--;
    }
    if (this.takeReturned(message.options.messageId)) {
      throw new UnroutableError(message.exchange, message.routingKey);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.channels.map((channel) => channel.close()));
  }

  private assertCanPublish(): void {
    const state = this.connection.state;
    if (!state.connected) throw new BrokerUnavailableError('not connected to the broker');
    if (state.blocked !== undefined) throw new BrokerUnavailableError(`the broker blocked publishing (${state.blocked})`);
    if (this.inFlightCount >= this.options.maxInFlight) {
      throw new BrokerUnavailableError(`${this.options.maxInFlight} publishes already await a confirm`);
    }
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

  private translate(error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    if (message === 'timeout') {
      return new BrokerUnavailableError(`no confirm within ${this.options.confirmTimeoutMs} ms`, { cause: error });
    }
    if (/nack/i.test(message)) return new PublishRejectedError('the broker refused the message (nack)');
    if (error instanceof Error && !this.connection.state.connected) {
      return new BrokerUnavailableError('connection lost before the confirm', { cause: error });
    }
    return error instanceof Error ? error : new Error(message);
  }
}
