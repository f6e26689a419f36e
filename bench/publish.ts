/**
 * Confirmed publish throughput, 512-byte persistent messages, classic and
 * quorum queue: raw amqplib with a pipelined confirm window of 1,000 vs
 * warren's `ConfirmPublisher` (mandatory + confirm + timeout, 4 channels)
 * with the same 1,000 publishes in flight. Medians of 3. Peers: Rascal's
 * default (confirmed, persistent, mandatory) publication to the same queue
 * with 1,000 awaiting a confirm, and BullMQ's `addBulk` of as many jobs in
 * chunks of 1,000 on Redis (no queue type there: the same figure on both rows).
 */
import { BrokerConnection } from '../src/broker/connection.ts';
import { ConfirmPublisher } from '../src/broker/confirm-publisher.ts';
import { declareQueue, rawConfirmedPublish } from './lib/raw-amqplib.ts';
import { medianOf } from './lib/stats.ts';
import { throughputRow, type BenchRow, type Peer } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';
import { bullmqEnqueue } from './peers/bullmq.ts';
import { measurePeer } from './peers/measure.ts';
import { rascalConfirmedPublish } from './peers/rascal.ts';

const WINDOW = 1_000;
const SIZE = 512;

export async function benchPublish(options: { count: number; runs: number; peers?: boolean }): Promise<BenchRow[]> {
  const withPeers = options.peers ?? true;
  let bullmq: number | undefined;
  if (withPeers) {
    progress(`enqueue: BullMQ addBulk (${options.runs} x ${options.count}, chunks of ${WINDOW})`);
    bullmq = await measurePeer('BullMQ', async () => (await medianOf(options.runs, async () => ({ rate: await bullmqEnqueue({ count: options.count }) }))).rate);
  }
  return inBenchVhost('publish', async ({ url }) => {
    const rows: BenchRow[] = [];
    for (const type of ['classic', 'quorum'] as const) {
      const queue = `bench-publish-${type}`;
      await declareQueue(url, queue, type);
      progress(`confirmed publish, ${type} queue: raw amqplib (${options.runs} x ${options.count})`);
      const content = Buffer.alloc(SIZE, 'x');
      const raw = await medianOf(options.runs, async () => {
        const rate = await rawConfirmedPublish({ url, routingKey: queue }, { count: options.count, content, window: WINDOW });
        await declareQueue(url, queue, type); // purges what this run left
        return { rate };
      });
      progress(`confirmed publish, ${type} queue: warren ConfirmPublisher`);
      const warren = await medianOf(options.runs, async () => {
        const rate = await warrenConfirmedPublish(url, queue, options.count);
        await declareQueue(url, queue, type);
        return { rate };
      });
      const peers: Partial<Record<Peer, number>> = {};
      if (withPeers) {
        progress(`confirmed publish, ${type} queue: Rascal publication`);
        peers.rascal = await measurePeer('Rascal', async () => {
          const median = await medianOf(options.runs, async () => {
            const rate = await rascalConfirmedPublish(url, queue, { count: options.count, size: SIZE, window: WINDOW });
            await declareQueue(url, queue, type);
            return { rate };
          });
          return median.rate;
        });
        if (bullmq !== undefined) peers.bullmq = bullmq;
      }
      rows.push(throughputRow('publish', `confirmed publish 512 B, ${type}`, warren.rate, raw.rate, 0.95, withPeers ? peers : undefined));
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
