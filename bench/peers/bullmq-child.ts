/**
 * BullMQ's side of the benchmark, in a process of its own, on the Redis at
 * REDIS_URL with every key under `<prefix>`:
 *   bullmq-child.ts enqueue <prefix> <count> <chunk>       addBulk in chunks of <chunk>, one after another
 *   bullmq-child.ts process <prefix> <count> <concurrency> a Worker with a no-op processor drains <count> jobs
 * Prints `result {"rate":…}`. Jobs carry the same ~512-byte JSON payload as
 * warren's bench jobs and BullMQ's default job options except
 * `removeOnComplete: true` (a finished job is deleted, as an acked message is;
 * BullMQ's default keeps every completed job in Redis). The process clock
 * runs from the worker's start to the last `completed` event (BullMQ's
 * moveToFinished, its ack).
 */
import { Queue, Worker } from 'bullmq';
import { benchJob } from '../lib/plans.ts';
import { REDIS_URL } from '../lib/redis-keys.ts';

const BULLMQ_QUEUE = 'bench';

const [mode, prefix, countArg, widthArg] = process.argv.slice(2);
if ((mode !== 'enqueue' && mode !== 'process') || !prefix || !countArg || !widthArg) {
  throw new Error('usage: bullmq-child.ts enqueue|process <prefix> <count> <chunk|concurrency>');
}
const count = Number(countArg);
const width = Number(widthArg);
const connection = { url: REDIS_URL };
const rate = mode === 'enqueue' ? await enqueue() : await processJobs();
process.stdout.write(`result ${JSON.stringify({ rate })}\n`);

async function enqueue(): Promise<number> {
  const queue = new Queue(BULLMQ_QUEUE, { connection, prefix, defaultJobOptions: { removeOnComplete: true } });
  try {
    await queue.waitUntilReady();
    const data = JSON.parse(benchJob('k0').toString()) as Record<string, unknown>;
    const started = performance.now();
    for (let sent = 0; sent < count; sent += width) {
      const size = Math.min(width, count - sent);
      await queue.addBulk(Array.from({ length: size }, (_, i) => ({ name: 'bench.job', data: { ...data, key: `k${(sent + i) % 1_000}` } })));
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await queue.close();
  }
}

async function processJobs(): Promise<number> {
  let completed = 0;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  // Clocked from the first delivery: connecting and subscribing are not consuming (the same for every side).
  let started = 0;
  const worker = new Worker(
    BULLMQ_QUEUE,
    async () => {
      if (started === 0) started = performance.now();
    },
    { connection, prefix, concurrency: width, autorun: false },
  );
  worker.on('completed', () => {
    if (++completed === count) finished();
  });
  worker.on('failed', (_job, error) => {
    process.stderr.write(`bullmq: a no-op job failed: ${error.message}\n`);
    process.exit(1);
  });
  try {
    await worker.waitUntilReady();
    void worker.run();
    await done;
    return count / ((performance.now() - started) / 1000);
  } finally {
    await worker.close();
  }
}
