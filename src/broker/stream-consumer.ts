import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type MessageProperties, type Options } from 'amqplib';
import { redactText } from './urls.ts';

/**
 * Reading RabbitMQ stream queues over AMQP 0-9-1 (what RabbitMQ 3.10
 * offers to amqplib). What the broker asks, measured on 3.10.8:
 * - a prefetch and manual acks; an ack is flow control only (it moves no
 *   offset), so acks are sent `allUpTo` once a batch is done;
 * - never `nack`, `reject`, `basic.get` or auto-ack: each closes the whole
 *   connection;
 * - `x-stream-offset`: `first` | `last` | `next` | an integer offset (sent as
 *   a long) | a timestamp typed as a timestamp in SECONDS (a number of
 *   milliseconds would silently mean `next`, a Date closes the connection);
 * - every delivery carries its `x-stream-offset`; offsets are not dense.
 * One channel per subscription, so cancelling one partition never touches
 * another's deliveries or acks.
 */

export type StreamStart = 'first' | 'last' | 'next' | { offset: number } | { timestampSeconds: number };

export interface StreamRecord {
  offset: number;
  content: Buffer;
  properties: MessageProperties;
  /** The record's timestamp property (seconds) as a Date, when set. */
  timestamp: Date | undefined;
  deliveryTag: number;
}

export interface StreamSubscription {
  /** Flow control: tells the broker every delivery up to `record` is handled. */
  ackUpTo(record: StreamRecord): void;
  /** Cancels the consumer and closes its channel; safe to call twice. */
  cancel(): Promise<void>;
  readonly closed: boolean;
}

export interface SubscribeOptions {
  queue: string;
  start: StreamStart;
  prefetch: number;
  onRecord: (record: StreamRecord) => void;
  /** The channel closed without `cancel` (broker, connection loss). */
  onLost: (reason: string) => void;
}

/** The `x-stream-offset` argument for a start position. */
export function streamOffsetArgument(start: StreamStart): string | { '!': 'long' | 'timestamp'; value: number } {
  if (typeof start === 'string') return start;
  if ('offset' in start) return { '!': 'long', value: start.offset };
  return { '!': 'timestamp', value: Math.floor(start.timestampSeconds) };
}

export class StreamConnection {
  private lostReason: string | undefined;
  private closing = false;

  private constructor(private readonly model: ChannelModel) {
    model.on('error', (error: Error) => {
      this.lostReason ??= redactText(error.message);
    });
    model.on('close', () => {
      this.lostReason ??= 'connection closed';
    });
  }

  /** Opens one connection (tries each URL in turn). */
  static async open(urls: readonly string[], name: string): Promise<StreamConnection> {
    let last: unknown;
    for (const url of urls) {
      try {
        return new StreamConnection(await connect(url, { clientProperties: { connection_name: name } }));
      } catch (error) {
        last = error;
      }
    }
    throw new Error(`cannot connect to the broker: ${redactText(last instanceof Error ? last.message : String(last))}`);
  }

  /** Why the connection is gone, or `undefined` while it is up. */
  get lost(): string | undefined {
    return this.closing ? 'closed' : this.lostReason;
  }

  async subscribe(options: SubscribeOptions): Promise<StreamSubscription> {
    const channel: Channel = await this.model.createChannel();
    let cancelled = false;
    let closed = false;
    channel.on('error', () => undefined);
    channel.on('close', () => {
      closed = true;
      if (!cancelled) options.onLost(this.lostReason ?? 'channel closed');
    });
    await channel.prefetch(options.prefetch);
    const { consumerTag } = await channel.consume(
      options.queue,
      (message: ConsumeMessage | null) => {
        if (message === null) {
          // The broker cancelled the consumer (queue deleted).
          if (!cancelled) options.onLost('consumer cancelled by the broker');
          return;
        }
        const offset = Number(message.properties.headers?.['x-stream-offset']);
        const stamp = message.properties.timestamp as number | undefined;
        options.onRecord({
          offset,
          content: message.content,
          properties: message.properties,
          timestamp: typeof stamp === 'number' ? new Date(stamp * 1000) : undefined,
          deliveryTag: message.fields.deliveryTag,
        });
      },
      { noAck: false, arguments: { 'x-stream-offset': streamOffsetArgument(options.start) } },
    );
    return {
      get closed() {
        return closed;
      },
      ackUpTo(record) {
        if (closed) return;
        channel.ack({ fields: { deliveryTag: record.deliveryTag } } as ConsumeMessage, true);
      },
      async cancel() {
        if (cancelled) return;
        cancelled = true;
        if (closed) return;
        await channel.cancel(consumerTag).catch(() => undefined);
        await channel.close().catch(() => undefined);
      },
    };
  }

  private confirmChannel: Promise<ConfirmChannel> | undefined;

  /** Declares a durable quorum queue (a consumer group's DLQ); a no-op when it exists alike. */
  async declareQueue(name: string): Promise<void> {
    const channel = await this.model.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Publishes to a queue (default exchange, mandatory) and resolves once the broker confirmed it. */
  async publishToQueue(queue: string, content: Buffer, options: Options.Publish): Promise<void> {
    this.confirmChannel ??= this.model.createConfirmChannel().then((channel) => {
      channel.on('error', () => undefined);
      channel.on('close', () => {
        this.confirmChannel = undefined;
      });
      return channel;
    });
    const channel = await this.confirmChannel;
    await new Promise<void>((resolve, reject) => {
      channel.publish('', queue, content, { ...options, mandatory: true, persistent: true }, (error) => (error ? reject(new Error('the broker refused the publish')) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.model.close().catch(() => undefined);
  }
}
