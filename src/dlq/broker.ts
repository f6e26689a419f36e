import { connect, type ChannelModel, type ConfirmChannel, type GetMessage, type Options } from 'amqplib';
import { BrokerUnavailableError } from '../errors.ts';
import { redactText } from '../broker/urls.ts';
import { DlqQueueError } from './errors.ts';

/**
 * The AMQP side of DLQ commands, on a short-lived connection of their own.
 *
 * Reading a DLQ without disturbing it: messages are taken with `basic.get`
 * (no auto-ack) on one channel and simply held unacked; closing the channel
 * gives every held message back. Measured on RabbitMQ 3.10 classic queues:
 * they return to their original positions (order kept) with `redelivered`
 * set. `basic.get` is paced by us, unlike a consumer whose prefetch window
 * would stall once it is full of held messages, so only delivery tags are
 * kept in memory, whatever the queue's length.
 */
export class DlqBroker {
  private constructor(private readonly connection: ChannelModel) {}

  /** Tries each URL in turn; `BrokerUnavailableError` (passwords redacted) when none answers. */
  static async open(urls: readonly string[]): Promise<DlqBroker> {
    let last: unknown;
    for (const url of urls) {
      try {
        // Without TCP_NODELAY every basic.get round trip waits out Nagle + delayed ACK (~40 ms).
        const connection = await connect(url, { noDelay: true, clientProperties: { connection_name: 'warren-dlq' } });
        connection.on('error', () => undefined);
        return new DlqBroker(connection);
      } catch (error) {
        last = error;
      }
    }
    const reason = last instanceof Error ? redactText(last.message) : String(last);
    throw new BrokerUnavailableError(`cannot connect to the broker: ${reason}`, { cause: last });
  }

  /** The queue's ready-message count; `DlqQueueError` when it does not exist (the probe channel absorbs the 404). */
  async depth(queue: string): Promise<number> {
    const probe = await this.connection.createChannel();
    probe.on('error', () => undefined);
    try {
      return (await probe.checkQueue(queue)).messageCount;
    } catch (error) {
      if (/NOT_FOUND|404/.test(String((error as Error).message))) {
        throw new DlqQueueError('unknown-queue', `queue "${queue}" does not exist`);
      }
      throw error;
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  async openChannel(): Promise<DlqChannel> {
    const channel = await this.connection.createConfirmChannel();
    return new DlqChannel(channel);
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

export type HeldMessage = GetMessage;

export interface Republish {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

export type PublishOutcome = { ok: true } | { ok: false; reason: string };

/**
 * One confirm channel: `take` (basic.get, held unacked), `republish`
 * (mandatory + confirm, resolving with the outcome instead of throwing) and
 * `ack`. A returned message precedes its confirm on the wire, so returns are
 * matched to the oldest pending publish with the same route and body.
 */
export class DlqChannel {
  private readonly pending: Array<{ exchange: string; routingKey: string; content: Buffer; returned: boolean }> = [];
  private failure: Error | undefined;

  constructor(private readonly channel: ConfirmChannel) {
    channel.on('error', (error: Error) => {
      this.failure ??= error;
    });
    channel.on('close', () => {
      this.failure ??= new BrokerUnavailableError('the DLQ channel was closed');
    });
    channel.on('return', (message: GetMessage) => this.markReturned(message));
  }

  /** Set once the channel failed: the pass must stop. */
  get error(): Error | undefined {
    return this.failure;
  }

  async take(queue: string): Promise<HeldMessage | false> {
    return this.channel.get(queue, { noAck: false });
  }

  republish(message: Republish): Promise<PublishOutcome> {
    const entry = { exchange: message.exchange, routingKey: message.routingKey, content: message.content, returned: false };
    this.pending.push(entry);
    return new Promise((resolve) => {
      const settle = (outcome: PublishOutcome): void => {
        this.pending.splice(this.pending.indexOf(entry), 1);
        resolve(outcome);
      };
      try {
        this.channel.publish(message.exchange, message.routingKey, message.content, { ...message.options, mandatory: true }, (error) => {
          if (error) settle({ ok: false, reason: this.failure ? `channel closed before the confirm` : 'the broker refused it (nack)' });
          else if (entry.returned) settle({ ok: false, reason: `unroutable: no queue bound to "${message.exchange || '(default)'}" for "${message.routingKey}"` });
          else settle({ ok: true });
        });
      } catch (error) {
        settle({ ok: false, reason: redactText((error as Error).message) });
      }
    });
  }

  ack(message: HeldMessage): void {
    this.channel.ack(message);
  }

  async purge(queue: string): Promise<number> {
    return (await this.channel.purgeQueue(queue)).messageCount;
  }

  /** Gives every held message back to the queue, in its original place. */
  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
  }

  private markReturned(message: GetMessage): void {
    const { exchange, routingKey } = message.fields;
    const entry = this.pending.find((p) => !p.returned && p.exchange === exchange && p.routingKey === routingKey && p.content.equals(message.content));
    if (entry) entry.returned = true;
  }
}
