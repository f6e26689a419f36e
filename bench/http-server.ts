/**
 * A server for bench/http-enqueue.ts, run in its own process so it does not
 * share an event loop with the load generator:
 *   node --import tsx bench/http-server.ts warren <amqpUrl>   the producer
 *   node --import tsx bench/http-server.ts bare <amqpUrl>     baseline: express + JSON.parse + one confirmed publish
 * Prints `listening <url>` once ready.
 */
import { connect } from 'amqplib';
import express from 'express';
import { pino } from 'pino';
import { startProducer } from '../src/producer/index.ts';
import { benchPlan, BENCH_EXCHANGE, BENCH_ROUTING_KEY } from './http-plan.ts';

const [mode, amqpUrl] = process.argv.slice(2);
// Stopped with SIGINT: exit normally, so that `--cpu-prof` (BENCH_CPU_PROF=1) writes its profile.
process.once('SIGINT', () => process.exit(0));
if (amqpUrl === undefined || (mode !== 'warren' && mode !== 'bare')) throw new Error('usage: http-server.ts warren|bare <amqpUrl>');

if (mode === 'warren') {
  // Logs at info to a file descriptor nobody reads: the cost of logging stays in the figure.
  const producer = await startProducer({
    plan: benchPlan(),
    amqpUrls: [amqpUrl],
    port: 0,
    apiTokens: undefined,
    insecure: true,
    logger: pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false })),
  });
  for (let i = 0; i < 100 && (await fetch(`${producer.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  process.stdout.write(`listening ${producer.url}\n`);
} else {
  const connection = await connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  const app = express();
  app.post('/v1/jobs/bench.job', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const payload = JSON.parse(Buffer.concat(chunks).toString()) as unknown;
      channel.publish(BENCH_EXCHANGE, BENCH_ROUTING_KEY, Buffer.from(JSON.stringify(payload)), { persistent: true }, (error) => {
        if (error) res.status(503).end();
        else res.status(202).json({ ok: true });
      });
    });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    process.stdout.write(`listening http://127.0.0.1:${address.port}\n`);
  });
}
