import { connect, type Channel, type ConfirmChannel, type Options } from 'amqplib';
import { summarizeLatencies, type LatencySummary } from './stats.ts';

/**
 * The baselines: what hand-written amqplib code does on the same broker in
 * the same run. Each warren figure is reported as a ratio to one of these.
 */

/** Where the raw publishes go: the default exchange with the queue's name, or an exchange and routing key. */
export interface PublishTarget {
  url: string;
  exchange?: string;
  routingKey: string;
}

export async function declareQueue(url: string, queue: string, type: 'classic' | 'quorum'): Promise<void> {
  await withChannel(url, async (channel) => {
    await channel.assertQueue(queue, { durable: true, arguments: type === 'quorum' ? { 'x-queue-type': 'quorum' } : {} });
    await channel.purgeQueue(queue);
  });
}

/**
 * Messages/s of `count` pipelined confirmed publishes on one confirm channel,
 * up to `window` (default 1,000) awaiting a confirm at once. Properties per
 * message from `properties` (default: persistent and mandatory). Leaves the
 * messages where they were routed; the caller purges.
 */
export async function rawConfirmedPublish(
  target: PublishTarget,
  options: { count: number; content: Buffer; window?: number; properties?: () => Options.Publish },
): Promise<number> {
  const connection = await connect(target.url);
  try {
    const channel = await connection.createConfirmChannel();
    const properties = options.properties ?? persistentMandatory;
    const started = performance.now();
    await pipelined(channel, options.count, options.window ?? 1_000, (done) =>
      channel.publish(target.exchange ?? '', target.routingKey, options.content, properties(), done),
    );
    return options.count / ((performance.now() - started) / 1000);
  } finally {
    await connection.close();
  }
}

const persistentMandatory = (): Options.Publish => ({ persistent: true, mandatory: true });

export async function pipelined(
  channel: ConfirmChannel,
  count: number,
  window: number,
  send: (done: (error: unknown) => void) => boolean,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let confirmed = 0;
    const pump = () => {
      while (sent < count && sent - confirmed < window) {
        sent++;
        send((error) => {
          if (error) return reject(error instanceof Error ? error : new Error(String(error)));
          confirmed++;
          if (confirmed === count) resolve();
          else if (sent - confirmed < window / 2) pump();
        });
      }
    };
    channel.on('error', reject);
    pump();
  });
}

/** Fills a queue with `count` persistent messages of `size` bytes. */
export async function fillQueue(url: string, queue: string, count: number, size: number): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const body = Buffer.alloc(size, 'x');
    let id = 0;
    await pipelined(channel, count, 2_000, (done) =>
      channel.publish('', queue, body, { persistent: true, messageId: `m${id++}`, contentType: 'application/json' }, done),
    );
  } finally {
    await connection.close();
  }
}

/** Manual-ack consume of `count` messages already in the queue. */
export async function rawConsume(url: string, queue: string, options: { prefetch: number; count: number }): Promise<number> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(options.prefetch);
    // Clocked from the first delivery: connecting and subscribing are not consuming (the same for every side).
    let started = 0;
    await new Promise<void>((resolve) => {
      let acked = 0;
      void channel.consume(queue, (message) => {
        if (!message) return;
        if (acked === 0) started = performance.now();
        channel.ack(message);
        if (++acked === options.count) resolve();
      });
    });
    return options.count / ((performance.now() - started) / 1000);
  } finally {
    await connection.close();
  }
}

/** Publish→deliver latency at a steady rate (one process, one clock). */
export async function rawLatency(url: string, queue: string, options: { rate: number; durationMs: number }): Promise<LatencySummary> {
  const connection = await connect(url);
  try {
    const publisher = await connection.createConfirmChannel();
    const consumer = await connection.createChannel();
    await consumer.prefetch(200);
    const total = Math.round((options.rate * options.durationMs) / 1000);
    const samples: number[] = [];
    const received = new Promise<void>((resolve) => {
      void consumer.consume(queue, (message) => {
        if (!message) return;
        samples.push(performance.now() - Number(message.content.toString()));
        consumer.ack(message);
        if (samples.length === total) resolve();
      });
    });
    await atSteadyRate(options.rate, total, () => {
      publisher.publish('', queue, Buffer.from(String(performance.now())), { persistent: true });
    });
    await received;
    return summarizeLatencies(samples);
  } finally {
    await connection.close();
  }
}

/** Calls `send` `total` times spread evenly at `rate` per second (in 1 ms slices). */
export async function atSteadyRate(rate: number, total: number, send: (index: number) => void | Promise<void>): Promise<void> {
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) void send(sent++);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function withChannel<T>(url: string, use: (channel: Channel) => Promise<T>): Promise<T> {
  const connection = await connect(url);
  try {
    return await use(await connection.createChannel());
  } finally {
    await connection.close();
  }
}
