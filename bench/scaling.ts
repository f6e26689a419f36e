/**
 * Scaling and memory, with workers as separate processes (`warren worker`
 * with the modules in bench/lib/workers/, raw amqplib in bench/lib/raw-child.ts):
 * - throughput of 1, 2 and 4 processes draining the 4-shard consumer
 *   `bench-sharded` (prefetch 100, no-op handler), clock from the first
 *   publish to the last handled job, next to as many raw manual-ack processes;
 * - resident memory of one process holding 1k and 10k deliveries unacked.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'amqplib';
import { declarePlanAt } from '../src/topology/declare.ts';
import { fillJobs } from './lib/jobs.ts';
import { BENCH_JOB, benchPlanWith, benchTopologyYaml } from './lib/plans.ts';
import { rssMiB, startChild, topologyFile, type Child } from './lib/processes.ts';
import { latencyRow, throughputRow, type BenchRow } from './lib/table.ts';
import { inBenchVhost, progress } from './lib/vhost.ts';

const SHARDS = ['bench-sharded.shard.0', 'bench-sharded.shard.1', 'bench-sharded.shard.2', 'bench-sharded.shard.3'];
type Side = 'warren' | 'raw';

export async function benchScaling(options: { processes: readonly number[]; count: number; holds: readonly number[] }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const processes of options.processes) {
    progress(`scaling: ${processes} process(es) on 4 shards, ${options.count} jobs`);
    const raw = await drainRate('raw', processes, options.count);
    const warren = await drainRate('warren', processes, options.count);
    rows.push({ ...throughputRow('scaling', `4-shard consumer, ${processes} worker process(es)`, warren, raw), note: 'single active consumer per shard: more processes are standbys' });
  }
  for (const held of options.holds) {
    progress(`memory: one process holding ${held} unacked`);
    const raw = await heldMemory('raw', held);
    const warren = await heldMemory('warren', held);
    // Issue 13: at most 1.5x raw's RSS (the ratio is raw/warren, so >= 1/1.5).
    rows.push({ ...latencyRow('memory', `RSS per process, ${held} unacked`, warren, raw, 1 / 1.5), unit: 'MiB' });
  }
  return rows;
}

/** A group of processes whose `<label> <n>` lines are summed. */
class Fleet {
  readonly children: Child[] = [];
  private readonly counts = new Map<number, number>();

  start(side: Side, index: number, args: { url: string; topology: string; module: string; queues: string[]; prefetch: number; mode: 'consume' | 'hold' }): Child {
    const onLine = (line: string) => {
      const match = /^(?:handled|held) (\d+)$/.exec(line);
      if (match) this.counts.set(index, Number(match[1]));
    };
    const child =
      side === 'warren'
        ? startChild(['--import', 'tsx', 'bench/lib/worker-child.ts', args.topology, args.module], { AMQP_URL: args.url }, onLine)
        : startChild(['--import', 'tsx', 'bench/lib/raw-child.ts', args.mode, args.url, args.queues.join(','), String(args.prefetch)], {}, onLine);
    this.children.push(child);
    return child;
  }

  get total(): number {
    return [...this.counts.values()].reduce((sum, n) => sum + n, 0);
  }

  async until(total: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.total < total) {
      if (Date.now() > deadline) throw new Error(`only ${this.total} of ${total} jobs seen within ${timeoutMs} ms`);
      if (this.children.some((c) => c.process.exitCode !== null)) throw new Error('a benchmark process exited early');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  stop(): Promise<void[]> {
    return Promise.all(this.children.map((child) => child.stop('SIGKILL')));
  }
}

async function drainRate(side: Side, processes: number, count: number): Promise<number> {
  const prefetch = 100;
  return inBenchVhost(`scaling-${side}-${processes}`, async ({ url }) => {
    await declarePlanAt(url, benchPlanWith(prefetch));
    const file = topologyFile(benchTopologyYaml(prefetch));
    const fleet = new Fleet();
    try {
      for (let i = 0; i < processes; i++) {
        fleet.start(side, i, { url, topology: file.path, module: 'bench/lib/workers/scaling-noop.ts', queues: SHARDS, prefetch, mode: 'consume' });
      }
      // Shards are single-active-consumer queues (ordering per key): the broker counts one active
      // consumer per shard however many processes subscribed; the others are hot standbys.
      await untilConsumers(url, SHARDS, SHARDS.length);
      const started = performance.now();
      await fillJobs(url, { count, runId: randomBytes(4).toString('hex'), routingKey: `${BENCH_JOB}.sharded` });
      await fleet.until(count, 120_000);
      return count / ((performance.now() - started) / 1000);
    } finally {
      await fleet.stop();
      file.remove();
    }
  });
}

async function heldMemory(side: Side, held: number): Promise<number> {
  return inBenchVhost(`memory-${side}-${held}`, async ({ url }) => {
    await declarePlanAt(url, benchPlanWith(held));
    await fillJobs(url, { count: held, runId: randomBytes(4).toString('hex') });
    const file = topologyFile(benchTopologyYaml(held));
    const fleet = new Fleet();
    try {
      const child = fleet.start(side, 0, { url, topology: file.path, module: 'bench/lib/workers/hold.ts', queues: ['bench'], prefetch: held, mode: 'hold' });
      await fleet.until(held, 60_000);
      // Let the deliveries' garbage settle before reading the resident size.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return await rssMiB(child.process.pid ?? 0);
    } finally {
      await fleet.stop();
      file.remove();
    }
  });
}

/** Waits until the queues have `expected` consumers between them (so the clock starts on running processes). */
async function untilConsumers(url: string, queues: readonly string[], expected: number): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    const deadline = Date.now() + 60_000;
    for (;;) {
      let consumers = 0;
      for (const queue of queues) consumers += (await channel.checkQueue(queue)).consumerCount;
      if (consumers >= expected) return;
      if (Date.now() > deadline) throw new Error(`only ${consumers} of ${expected} consumers registered`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await connection.close();
  }
}
