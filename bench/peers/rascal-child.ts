/**
 * Rascal's side of the benchmark, in a process of its own (as raw amqplib's
 * and warren's workers run in theirs in bench/scaling.ts):
 *   rascal-child.ts consume <url> <queue> <prefetch> <count>
 *     subscribes to the queue, acks every message from its handler; the clock
 *     runs from subscribe to the last ack, as rawConsume's does;
 *   rascal-child.ts publish <url> <queue> <window> <count> <size>
 *     publishes <count> messages of <size> bytes through a publication to the
 *     queue, <window> of them awaiting their confirm at once.
 * Rascal's default configuration (`withDefaultConfig`: confirmed, persistent,
 * mandatory publications; prefetch and redelivery limits per subscription)
 * with one exception: the queue is checked rather than asserted, since it was
 * declared before with arguments Rascal would have to repeat.
 * Prints `result {"rate":…}`.
 */
import rascal, { type BrokerAsPromised } from 'rascal';
import { vhostOf } from '../../src/broker/urls.ts';

const [mode, url, queue, width, count, size] = process.argv.slice(2);
if ((mode !== 'consume' && mode !== 'publish') || !url || !queue || !width || !count) {
  throw new Error('usage: rascal-child.ts consume <url> <queue> <prefetch> <count> | publish <url> <queue> <window> <count> <size>');
}
const total = Number(count);
const vhost = vhostOf(url);
const config = rascal.withDefaultConfig({
  vhosts: {
    [vhost]: {
      connection: { url },
      queues: { [queue]: { assert: false, check: true } },
    },
  },
  ...(mode === 'consume' ? { subscriptions: { bench: { vhost, queue, prefetch: Number(width) } } } : { publications: { bench: { vhost, queue } } }),
});

const fail = (error: Error) => {
  process.stderr.write(`rascal: ${error.message}\n`);
  process.exit(1);
};
const broker = await rascal.BrokerAsPromised.create(config);
broker.on('error', fail);
const rate = mode === 'consume' ? await consume(broker) : await publish(broker, Number(size ?? 512));
await broker.shutdown();
process.stdout.write(`result ${JSON.stringify({ rate })}\n`);

async function consume(broker: BrokerAsPromised): Promise<number> {
  let acked = 0;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  // Clocked from the first delivery: connecting and subscribing are not consuming (the same for every side).
  let started = 0;
  const subscription = await broker.subscribe('bench');
  subscription.on('error', fail);
  subscription.on('message', (_message, _content, ackOrNack) => {
    if (acked === 0) started = performance.now();
    ackOrNack();
    if (++acked === total) finished();
  });
  await done;
  return total / ((performance.now() - started) / 1000);
}

/** As warrenConfirmedPublish: `width` lanes, each publishing and awaiting its confirm in turn. */
async function publish(broker: BrokerAsPromised, bytes: number): Promise<number> {
  const content = Buffer.alloc(bytes, 'x');
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) {
      next++;
      const publication = await broker.publish('bench', content);
      await new Promise<void>((resolve, reject) => {
        publication.on('success', () => resolve());
        publication.on('error', reject);
        publication.on('return', () => reject(new Error(`the broker returned a message to ${queue} (unroutable)`)));
      });
    }
  };
  await Promise.all(Array.from({ length: Number(width) }, lane));
  return total / ((performance.now() - started) / 1000);
}
