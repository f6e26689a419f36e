/**
 * `npm run bench [-- --quick] [-- --only publish,consume,...] [-- --no-peers]`:
 * every benchmark against the local broker (AMQP_URL, each part in a vhost of
 * its own, deleted afterwards and on Ctrl-C), progress on stderr, ONE table on
 * stdout with each warren figure next to raw amqplib's and the peers' (Rascal,
 * BullMQ on REDIS_URL) from the same run, and the JSON in bench/results/.
 * Exit 1 when a part or a peer failed to run (missed targets are reported in
 * the table, not as a failure).
 */
import { createRequire } from 'node:module';
import { ManagementClient } from '../src/broker/management.ts';
import { DEFAULT_MANAGEMENT_URL, redactText } from '../src/broker/urls.ts';
import { benchConsume } from './consume.ts';
import { benchLatency } from './latency.ts';
import { runPendingCleanups } from './lib/cleanup.ts';
import { dlqRows, httpRows } from './lib/others.ts';
import { failedPeers, formatTable, machineDescription, writeResults, type BenchRow } from './lib/table.ts';
import { progress } from './lib/vhost.ts';
import { redisPersistence } from './peers/bullmq.ts';
import { benchPublish } from './publish.ts';
import { benchScaling } from './scaling.ts';

const quick = process.argv.includes('--quick');
const onlyFlag = process.argv.indexOf('--only');
const only = onlyFlag >= 0 ? new Set((process.argv[onlyFlag + 1] ?? '').split(',')) : undefined;
/** `--queue-type classic|quorum`: the queue type of the consume rows (default: the topology default, quorum). */
const queueTypeFlag = process.argv.indexOf('--queue-type');
const queueTypeArg = queueTypeFlag >= 0 ? process.argv[queueTypeFlag + 1] : undefined;
if (queueTypeArg !== undefined && queueTypeArg !== 'classic' && queueTypeArg !== 'quorum') {
  process.stderr.write(`--queue-type takes classic or quorum, not ${JSON.stringify(queueTypeArg)}\n`);
  process.exit(1);
}
const queueType = queueTypeArg;
/** `--no-peers`: skip Rascal and BullMQ (their columns show "—"). */
const peers = !process.argv.includes('--no-peers');

interface Part {
  name: string;
  run(): Promise<BenchRow[]>;
}

const parts: Part[] = [
  { name: 'publish', run: () => benchPublish({ count: quick ? 5_000 : 20_000, runs: quick ? 1 : 3, peers }) },
  {
    name: 'consume',
    run: () =>
      benchConsume({
        prefetches: [1, 10, 100],
        count: (prefetch) => (prefetch === 1 ? (quick ? 500 : 2_000) : quick ? 2_000 : 10_000),
        batch: { prefetch: 500, size: 250, count: quick ? 5_000 : 20_000 },
        ...(queueType !== undefined && { queueType }),
        peers,
      }),
  },
  {
    name: 'http',
    run: async () => {
      const { runHttpEnqueueBench } = await import('./http-enqueue.ts');
      return httpRows(await runHttpEnqueueBench({ durationSeconds: quick ? 3 : 10, publishCount: quick ? 5_000 : 20_000 }));
    },
  },
  { name: 'latency', run: () => benchLatency({ rates: [1_000, 5_000], durationMs: quick ? 2_000 : 6_000 }) },
  {
    name: 'dlq',
    run: async () => {
      const { benchDlqReplay } = await import('./dlq-replay.ts');
      return dlqRows(await benchDlqReplay(quick ? 2_000 : 10_000));
    },
  },
  {
    name: 'history',
    run: async () => {
      const { benchHistory } = await import('./history.ts');
      return benchHistory({ prefetches: [100], count: quick ? 3_000 : 10_000, runs: quick ? 1 : 3 });
    },
  },
  {
    name: 'streams',
    run: async () => {
      const { benchStreams } = await import('./streams.ts');
      return benchStreams({ count: quick ? 5_000 : 20_000 });
    },
  },
  { name: 'scaling', run: () => benchScaling({ processes: [1, 2, 4], count: quick ? 5_000 : 20_000, holds: [1_000, 10_000] }) },
];

async function brokerVersion(): Promise<string | undefined> {
  try {
    const overview = await new ManagementClient(process.env.RABBITMQ_MANAGEMENT_URL ?? DEFAULT_MANAGEMENT_URL).get<{ rabbitmq_version?: string }>('/overview');
    return overview?.rabbitmq_version;
  } catch {
    return undefined;
  }
}

const rows: BenchRow[] = [];
const failures: string[] = [];
const started = Date.now();
for (const part of parts) {
  if (only && !only.has(part.name)) continue;
  progress(`== ${part.name}`);
  try {
    rows.push(...(await part.run()));
  } catch (error) {
    const message = redactText(error instanceof Error ? error.message : String(error));
    failures.push(`${part.name}: ${message}`);
    progress(`${part.name} FAILED: ${message}`);
  }
}
failures.push(...failedPeers(rows).map((row) => `peer ${row}`));
// Whatever a part could not undo on its way out gets a second try.
await runPendingCleanups(progress);
const version = await brokerVersion();
const machine = machineDescription(version);
const peerSetup = peers ? { rascal: `Rascal ${packageVersion('rascal')}`, bullmq: `BullMQ ${packageVersion('bullmq')}, Redis ${await redisPersistence()}` } : undefined;
const file = writeResults('bench', rows, { quick, machine, failures, seconds: Math.round((Date.now() - started) / 1000), ...(peerSetup && { peers: peerSetup }) });
const peerLine = peerSetup ? `, ${peerSetup.rascal}, ${peerSetup.bullmq}` : '';
process.stdout.write(`\nwarren vs raw amqplib${peerLine} — ${machine}${quick ? ' (--quick)' : ''}\n\n${formatTable(rows)}\n\n`);
process.stdout.write(`ratio: warren/raw for rates, raw/warren for latencies and memory (higher is better); a peer's cell: its figure (its ratio to raw, the same way);\n`);
process.stdout.write(`vs peers: warren against the best peer in the row (above 1 is ahead); "—": no equivalent; results: ${file}\n`);
for (const failure of failures) process.stdout.write(`FAILED ${failure}\n`);
process.exitCode = failures.length > 0 ? 1 : 0;

function packageVersion(name: string): string {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    return '?';
  }
}
