import { connect } from 'amqplib';
import { jobHeaders } from '../../src/message/headers.ts';
import { BENCH_EXCHANGE, BENCH_JOB, BENCH_SHARDS, benchJob } from './plans.ts';
import { pipelined } from './raw-amqplib.ts';

/**
 * Publishes `count` warren-shaped jobs (JSON, messageId, x-warren headers)
 * through the bench exchange, confirmed, 2,000 in flight. Ids are
 * `<runId>-<i>` so every run is new to a persistent idempotency store.
 */
export async function fillJobs(url: string, options: { count: number; runId: string; routingKey?: string }): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const routingKey = options.routingKey ?? BENCH_JOB;
    let i = 0;
    await pipelined(channel, options.count, 2_000, (done) => {
      const key = `k${i % 1_000}`;
      const id = `${options.runId}-${i++}`;
      return channel.publish(BENCH_EXCHANGE, routingKey, benchJob(key), {
        persistent: true,
        mandatory: true,
        contentType: 'application/json',
        messageId: id,
        type: BENCH_JOB,
        // The shard header as the job client sends it: the sharded consumer's headers exchange routes on it.
        headers: jobHeaders({ exchange: BENCH_EXCHANGE, routingKey, orderingKey: key, shardCounts: [BENCH_SHARDS], now: new Date() }),
      }, done);
    });
  } finally {
    await connection.close();
  }
}
