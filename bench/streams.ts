/**
 * Streams (issue 15): publishing events to a 4-partition stream with
 * confirms, and a consumer group draining it (batches of 500, each batch's
 * offset committed to PostgreSQL in a transaction, no-op handler), each
 * against raw amqplib doing the same on the same broker in the same run:
 * raw publish = a confirm channel publishing to `p<partition>` with the same
 * pipelining; raw consume = one consumer per partition at the same prefetch,
 * acks coalesced every 500, nothing stored. Target: group consume ≥ 0.7× raw.
 *
 * Run alone: `node --import tsx bench/streams.ts [--quick]`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type ConsumeMessage } from 'amqplib';
import pg from 'pg';
import { createJobClient } from '../src/client/index.ts';
import { partitionOf } from '../src/streams/partition-hash.ts';
import { startStreamWorker, defineStreamWorker } from '../src/streams/stream-worker.ts';
import { declarePlanAt } from '../src/topology/declare.ts';
import { parseTopology } from '../src/topology/load.ts';
import type { TopologyPlan } from '../src/topology/plan.ts';
import { formatTable, throughputRow, type BenchRow } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PARTITIONS = 4;
const PREFETCH = 1_000;
const BATCH = 500;
const WINDOW = 1_000;

function benchPlan(): TopologyPlan {
  const parsed = parseTopology(
    `streams:\n  bench-log:\n    partitions: ${PARTITIONS}\nevents:\n  bench.event:\n    stream: bench-log\n    key: key\n`,
    'bench-streams.yaml',
  );
  if (!parsed.ok) throw new Error('bench stream topology');
  return parsed.value.plan;
}

async function warrenPublish(url: string, plan: TopologyPlan, count: number): Promise<number> {
  const client = await createJobClient({ topology: plan, amqpUrls: [url] });
  try {
    const started = performance.now();
    for (let i = 0; i < count; i += WINDOW) {
      await Promise.all(Array.from({ length: Math.min(WINDOW, count - i) }, (_, j) => client.publishEvent('bench.event', { key: `k-${(i + j) % 1000}`, n: i + j })));
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await client.close();
  }
}

/**
 * `sameMessage`: the raw side sends what a warren event carries (content
 * type, message id, type, timestamp, the key header), so the ratio is
 * warren's own cost; without it, the bare minimum a raw publisher can send.
 */
async function rawPublish(url: string, count: number, sameMessage = false): Promise<number> {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const started = performance.now();
    for (let i = 0; i < count; i += WINDOW) {
      await Promise.all(
        Array.from({ length: Math.min(WINDOW, count - i) }, (_, j) => {
          const key = `k-${(i + j) % 1000}`;
          const properties = sameMessage
            ? { contentType: 'application/json', messageId: randomUUID(), type: 'bench.event', timestamp: Math.floor(Date.now() / 1000), headers: { 'x-warren-ordering-key': key } }
            : {};
          return new Promise<void>((resolve, reject) =>
            channel.publish('bench-log', `p${partitionOf(key, PARTITIONS)}`, Buffer.from(JSON.stringify({ key, n: i + j })), { persistent: true, mandatory: true, ...properties }, (error) =>
              error ? reject(error) : resolve(),
            ),
          );
        }),
      );
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await connection.close();
  }
}

async function rawConsume(url: string, total: number): Promise<number> {
  const connection = await connect(url);
  try {
    let seen = 0;
    let started = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const channel = await connection.createChannel();
      await channel.prefetch(PREFETCH);
      let sinceAck = 0;
      await channel.consume(
        `bench-log.p${partition}`,
        (message: ConsumeMessage | null) => {
          if (message === null) return;
          if (started === 0) started = performance.now();
          JSON.parse(message.content.toString());
          seen += 1;
          sinceAck += 1;
          if (sinceAck >= BATCH) {
            channel.ack(message, true);
            sinceAck = 0;
          }
          if (seen >= total) finish();
        },
        { noAck: false, arguments: { 'x-stream-offset': 'first' } },
      );
    }
    await done;
    return total / ((performance.now() - started) / 1000);
  } finally {
    await connection.close();
  }
}

async function groupConsume(url: string, plan: TopologyPlan, total: number, prefix: string): Promise<number> {
  let seen = 0;
  let started = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = await startStreamWorker(
    defineStreamWorker({
      stream: 'bench-log',
      group: 'bench',
      batch: { size: BATCH, maxWaitMs: 50 },
      async handleBatch(records) {
        if (started === 0) started = performance.now();
        void records;
      },
    }),
    {
      plan,
      amqpUrls: [url],
      databaseUrl: DATABASE_URL,
      tablePrefix: prefix,
      prefetch: PREFETCH,
      onEvent: (event) => {
        if (event.kind !== 'committed') return;
        seen += event.records;
        if (seen >= total) finish();
      },
    },
  );
  try {
    await done;
    return total / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
  }
}

export async function benchStreams(options: { count: number }): Promise<BenchRow[]> {
  const prefix = `warren_bench_streams_${randomBytes(4).toString('hex')}_`;
  const rows: BenchRow[] = [];
  try {
    await inBenchVhost('streams', async ({ url }) => {
      const plan = benchPlan();
      await declarePlanAt(url, plan);
      progress(`streams: raw amqplib publish, ${options.count} events with confirms`);
      const rawPub = await rawPublish(url, options.count);
      progress(`streams: warren publishEvent, ${options.count} events`);
      const warrenPub = await warrenPublish(url, plan, options.count);
      progress(`streams: raw amqplib publish of the same messages (id, type, timestamp, key header), ${options.count} events`);
      const rawSamePub = await rawPublish(url, options.count, true);
      rows.push(throughputRow('streams', `publish events with confirms, ${PARTITIONS} partitions, ${WINDOW} in flight`, warrenPub, rawPub));
      rows.push({
        ...throughputRow('streams', `publish events, raw sending the same properties and key header`, warrenPub, rawSamePub),
        note: '(the ratio left is warren: validation, partition, id, confirm tracking)',
      });
      const total = options.count * 2;
      progress(`streams: raw amqplib consume of ${total} records, prefetch ${PREFETCH}, acks every ${BATCH}`);
      const rawCon = await rawConsume(url, total);
      progress(`streams: consumer group, batches of ${BATCH}, offsets committed to PostgreSQL`);
      const groupCon = await groupConsume(url, plan, total, prefix);
      rows.push({
        ...throughputRow('streams', `group consume, prefetch ${PREFETCH}, batch ${BATCH} committed to PostgreSQL (no-op handler)`, groupCon, rawCon, 0.7),
        note: '(raw = one amqplib consumer per partition, acks coalesced, nothing stored)',
      });
    });
  } finally {
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    for (const table of ['stream_members', 'stream_offsets']) await db.query(`DROP TABLE IF EXISTS ${prefix}${table}`);
    await db.end();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchStreams({ count: process.argv.includes('--quick') ? 5_000 : 20_000 });
  process.stdout.write(`${formatTable(rows)}\n`);
}
