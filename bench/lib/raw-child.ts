/**
 * The raw amqplib side of bench/scaling.ts, as a process of its own:
 *   raw-child.ts consume <url> <queue,queue,...> <prefetch>   manual-ack every delivery
 *   raw-child.ts hold <url> <queue> <prefetch>                 keep every delivery unacked
 * Prints `handled N` / `held N` like the warren worker modules do.
 */
import { connect } from 'amqplib';
import { reportCount } from './workers/report.ts';

const [mode, url, queues, prefetch] = process.argv.slice(2);
if ((mode !== 'consume' && mode !== 'hold') || !url || !queues || !prefetch) {
  throw new Error('usage: raw-child.ts consume|hold <url> <queues> <prefetch>');
}
const connection = await connect(url);
const channel = await connection.createChannel();
await channel.prefetch(Number(prefetch));
const count = reportCount(mode === 'consume' ? 'handled' : 'held');
const held: unknown[] = [];
for (const queue of queues.split(',')) {
  await channel.consume(queue, (message) => {
    if (!message) return;
    count.add();
    if (mode === 'consume') channel.ack(message);
    else held.push(message);
  });
}
process.stdout.write('consuming\n');
