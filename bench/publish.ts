/**
 * Confirmed publish throughput, 512-byte persistent messages, classic and
 * quorum queue: raw amqplib with a pipelined confirm window of 1,000 vs
 * warren's `ConfirmPublisher` (mandatory + confirm + timeout, 4 channels)
 * with the same 1,000 publishes in flight. Medians of 3.
 */
import { BrokerConnection } from '../src/broker/connection.ts';
import { ConfirmPublisher } from '../src/broker/confirm-publisher.ts';
import { declareQueue, rawConfirmedPublish } from './lib/raw-amqplib.ts';
import { medianOf } from './lib/stats.ts';
import { throughputRow, type BenchRow } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';

const WINDOW = 1_000;
const SIZE = 512;

export async function benchPublish(options: { count: number; runs: number }): Promise<BenchRow[]> {
  return inBenchVhost('publish', async ({ url }) => {
    const rows: BenchRow[] = [];
    for (const type of ['classic', 'quorum'] as const) {
      const queue = `bench-publish-${type}`;
      await declareQueue(url, queue, type);
      progress(`confirmed publish, ${type} queue: raw amqplib (${options.runs} x ${options.count})`);
      const raw = await medianOf(options.runs, async () => ({ rate: await rawConfirmedPublish({ url, queue, type }, { count: options.count, size: SIZE, window: WINDOW }) }));
      progress(`confirmed publish, ${type} queue: warren ConfirmPublisher`);
      const warren = await medianOf(options.runs, async () => {
        const rate = await warrenConfirmedPublish(url, queue, options.count);
        await declareQueue(url, queue, type); // purges what this run left
        return { rate };
      });
      rows.push(throughputRow('publish', `confirmed publish 512 B, ${type}`, warren.rate, raw.rate, 0.9));
    }
    return rows;
  });
}

/** Messages/s through `ConfirmPublisher.publish`, keeping WINDOW publishes awaiting their confirm. */
export async function warrenConfirmedPublish(url: string, queue: string, count: number): Promise<number> {
  const connection = new BrokerConnection({ urls: [url], name: 'warren-bench-publisher' });
  const publisher = new ConfirmPublisher(connection);
  try {
    await connection.waitForConnect();
    await publisher.waitForConnect();
    const content = Buffer.alloc(SIZE, 'x');
    let next = 0;
    const started = performance.now();
    const lane = async () => {
      while (next < count) {
        const id = next++;
        await publisher.publish({ exchange: '', routingKey: queue, content, options: { persistent: true, messageId: `p${id}` } });
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
    const rate = count / ((performance.now() - started) / 1000);
    return rate;
  } finally {
    await publisher.close();
    await connection.close();
  }
}
