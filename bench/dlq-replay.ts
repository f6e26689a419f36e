/**
 * DLQ replay throughput: `replayDeadLetters` (no rate limit) next to a raw
 * amqplib loop doing get → publish → wait for the confirm → ack, one
 * message at a time, on the same broker in the same run. Each side gets a
 * fresh vhost holding N dead letters (50,000 by default) and replays them
 * into a plain queue.
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 node --import tsx bench/dlq-replay.ts [N]
 */
import { connect, type ChannelModel } from 'amqplib';
import { DEFAULT_AMQP_URL, parseAmqpUrls } from '../src/broker/urls.ts';
import { DlqBroker } from '../src/dlq/broker.ts';
import { ReplayPublisher } from '../src/dlq/replay-publisher.ts';
import { replayRouteFor } from '../src/dlq/replay-target.ts';
import { parseSelection } from '../src/dlq/filter.ts';
import { replayDeadLetters } from '../src/dlq/replay.ts';
import { deadLetterHeaders, jobHeaders, replayHeaders } from '../src/message/headers.ts';
import { inBenchVhost } from './lib/vhost.ts';

export interface BenchRow {
  name: string;
  messages: number;
  seconds: number;
  perSecond: number;
  /** Throughput relative to the raw loop. */
  ratio: number;
}

const DLQ = 'bench.dlq';
const TARGET = 'bench.work';

export async function benchDlqReplay(messages = 50_000): Promise<BenchRow[]> {
  const amqpUrl = parseAmqpUrls(process.env.AMQP_URL ?? DEFAULT_AMQP_URL)[0] ?? DEFAULT_AMQP_URL;
  const raw = await inVhost(amqpUrl, messages, rawLoop);
  const warren = await inVhost(amqpUrl, messages, async (url) => {
    const broker = await DlqBroker.open([url]);
    try {
      // The bench's DLQ belongs to no topology: an explicit target, as `--to bench.work --force` gives.
      const route = replayRouteFor(undefined, DLQ, { to: TARGET, force: true });
      const summary = await replayDeadLetters(broker, () => ReplayPublisher.open([url]), DLQ, { route, selection: parseSelection({}) });
      if (summary.replayed !== messages) throw new Error(`warren replayed ${summary.replayed} of ${messages}`);
    } finally {
      await broker.close();
    }
  });
  const row = (name: string, seconds: number): BenchRow => ({ name, messages, seconds, perSecond: messages / seconds, ratio: raw / seconds });
  return [row('raw amqplib get+publish+confirm+ack', raw), row('warren dlq replay', warren)];
}

/** Fresh vhost with `messages` dead letters; returns the seconds `run` took; always deletes the vhost (on Ctrl-C too). */
async function inVhost(amqpUrl: string, messages: number, run: (url: string) => Promise<void>): Promise<number> {
  return inBenchVhost(
    'dlq',
    async ({ url }) => {
      const connection = await connect(url);
      await fill(connection, messages);
      const started = process.hrtime.bigint();
      await run(url);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const channel = await connection.createChannel();
      const moved = (await channel.checkQueue(TARGET)).messageCount;
      await connection.close();
      if (moved !== messages) throw new Error(`${moved} of ${messages} messages reached ${TARGET}`);
      return seconds;
    },
    amqpUrl,
  );
}

async function fill(connection: ChannelModel, messages: number): Promise<void> {
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(DLQ);
  await channel.assertQueue(TARGET);
  const now = new Date();
  const headers = deadLetterHeaders(jobHeaders({ exchange: '', routingKey: TARGET, now }), {
    reason: 'non-retryable',
    error: { class: 'BenchError', message: 'synthetic failure' },
    attempts: 1,
    worker: 'bench',
    consumer: 'bench',
    deliveredFrom: { exchange: '', routingKey: TARGET },
    now,
  });
  const body = Buffer.from(JSON.stringify({ orderId: 'o-1', items: [{ sku: 'sku-1', quantity: 1, price: 9.5 }] }));
  for (let i = 0; i < messages; i++) {
    channel.sendToQueue(DLQ, body, { persistent: true, messageId: `b-${i}`, type: 'bench', contentType: 'application/json', headers });
    if (i % 1_000 === 999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
  await channel.close();
}

/** The baseline a user would write by hand: strictly one message at a time. */
async function rawLoop(url: string): Promise<void> {
  // noDelay as warren uses it: without it every round trip waits ~40 ms (Nagle + delayed ACK).
  const connection = await connect(url, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  for (;;) {
    const message = await channel.get(DLQ, { noAck: false });
    if (message === false) break;
    const { headers, ...properties } = message.properties;
    await new Promise<void>((resolve, reject) =>
      channel.publish('', TARGET, message.content, { ...properties, headers: replayHeaders(headers), mandatory: true }, (error) => (error ? reject(error) : resolve())),
    );
    channel.ack(message);
  }
  await connection.close();
}

export function formatRows(rows: BenchRow[]): string {
  const lines = ['| run | messages | seconds | msg/s | vs raw |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.name} | ${r.messages} | ${r.seconds.toFixed(2)} | ${Math.round(r.perSecond)} | ${(r.ratio * 100).toFixed(0)}% |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = Number(process.argv[2] ?? 50_000);
  console.log(formatRows(await benchDlqReplay(count)));
}
