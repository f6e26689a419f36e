import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { BrokerUnavailableError } from '../errors.ts';
import { redactText } from '../broker/urls.ts';
import { DlqQueueError } from './errors.ts';

export type QueueType = 'classic' | 'quorum';

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
  private constructor(
    private readonly connection: ChannelModel,
    private readonly queueTypes: ReadonlyMap<string, QueueType>,
  ) {}

  /**
   * Tries each URL in turn; `BrokerUnavailableError` (passwords redacted)
   * when none answers. `queueTypes` (from the topology) says which queues are
   * quorum queues: their held messages are given back differently.
   */
  static async open(urls: readonly string[], options: { queueTypes?: ReadonlyMap<string, QueueType> } = {}): Promise<DlqBroker> {
    let last: unknown;
    for (const url of urls) {
      try {
        // Without TCP_NODELAY every basic.get round trip waits out Nagle + delayed ACK (~40 ms).
        const connection = await connect(url, { noDelay: true, clientProperties: { connection_name: 'warren-dlq' } });
        connection.on('error', () => undefined);
        return new DlqBroker(connection, options.queueTypes ?? new Map());
      } catch (error) {
        last = error;
      }
    }
    const reason = last instanceof Error ? redactText(last.message) : String(last);
    throw new BrokerUnavailableError(`cannot connect to the broker: ${reason}`, { cause: last });
  }

  /** The queue's ready-message count; `DlqQueueError` when it does not exist (the probe channel absorbs the 404). */
  async depth(queue: string): Promise<number> {
    const depth = await this.probe((channel) => channel.checkQueue(queue));
    if (depth === undefined) throw new DlqQueueError('unknown-queue', `queue ${JSON.stringify(queue.slice(0, 255))} does not exist`);
    return depth.messageCount;
  }

  async queueExists(queue: string): Promise<boolean> {
    return (await this.probe((channel) => channel.checkQueue(queue))) !== undefined;
  }

  async exchangeExists(exchange: string): Promise<boolean> {
    if (exchange === '') return true;
    return (await this.probe((channel) => channel.checkExchange(exchange))) !== undefined;
  }

  /** A holding channel for a pass over `queue`. */
  async openChannel(queue?: string): Promise<DlqChannel> {
    const channel = await this.connection.createChannel();
    if (queue === undefined || this.queueTypes.get(queue) !== 'quorum') return new DlqChannel(channel);
    return new DlqChannel(channel, (held) => this.waitForDepth(queue, held));
  }

  /**
   * A quorum queue's message count trails the return of held messages for a
   * moment (measured: 21 of 30 right after a pass); a pass ends only once
   * they count again, so the next pass, which reads the count it starts
   * with, sees them all. Bounded: messages may also be consumed meanwhile.
   */
  private async waitForDepth(queue: string, atLeast: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const depth = await this.probe((channel) => channel.checkQueue(queue)).catch(() => undefined);
      if (depth === undefined || depth.messageCount >= atLeast) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Runs a passive check on a channel of its own: a 404 closes only that channel and reads as `undefined`. */
  private async probe<T>(check: (channel: Channel) => Promise<T>): Promise<T | undefined> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await check(channel);
    } catch (error) {
      if (/NOT_FOUND|404/.test(String((error as Error).message))) return undefined;
      throw error;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

export type HeldMessage = GetMessage;

/**
 * The holding channel of one pass: `take` (basic.get, held unacked), `ack`
 * and `purge`. Replays publish elsewhere (`ReplayPublisher`, through the
 * `ConfirmPublisher` on a connection of its own), so a publish that closes
 * its channel (404 on a deleted exchange, an oversized message) never
 * closes this one: held messages stay held and acks keep their meaning.
 */
export class DlqChannel {
  private failure: Error | undefined;

  /** Taken and not acked: what `close` gives back. */
  private held = 0;

  /**
   * @param quorumReturned set for a quorum queue: messages go back with one
   * nack (see `close`), then this waits until the queue counts them again.
   */
  constructor(
    private readonly channel: Channel,
    private readonly quorumReturned?: (held: number) => Promise<void>,
  ) {
    channel.on('error', (error: Error) => {
      this.failure ??= error;
    });
    channel.on('close', () => {
      this.failure ??= new BrokerUnavailableError('the DLQ channel was closed');
    });
  }

  /** Set once the channel failed: the pass must stop (every unacked message is back in the queue). */
  get error(): Error | undefined {
    return this.failure;
  }

  async take(queue: string): Promise<HeldMessage | false> {
    const message = await this.channel.get(queue, { noAck: false });
    if (message !== false) this.held++;
    return message;
  }

  ack(message: HeldMessage): void {
    this.channel.ack(message);
    this.held--;
  }

  async purge(queue: string): Promise<number> {
    return (await this.channel.purgeQueue(queue)).messageCount;
  }

  /**
   * Gives every held message back to the queue, in its original order.
   * Measured on RabbitMQ 3.10 with 5,000 held messages: a classic queue
   * takes them back in order within ~35 ms when the channel closes, but
   * needs ~34 s for a `nack(all, requeue)`; a quorum queue takes them back
   * fast either way, but in a scrambled order from a channel close and in
   * order from the nack. So: nack first on quorum queues, then close.
   */
  async close(): Promise<void> {
    const quorum = this.quorumReturned;
    if (quorum !== undefined && this.failure === undefined) {
      try {
        this.channel.nackAll(true);
      } catch {
        // Closed meanwhile: the close below (or the broker) returns them.
      }
    }
    await this.channel.close().catch(() => undefined);
    if (quorum !== undefined && this.held > 0) await quorum(this.held);
  }
}
