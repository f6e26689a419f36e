import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';

/**
 * The topology the worker benchmarks use: one job type on a direct exchange,
 * a plain consumer (`bench`) and a 4-shard ordered consumer (`bench-sharded`).
 * Retry tiers exist but a no-op handler never uses them.
 */
export const BENCH_EXCHANGE = 'bench';
export const BENCH_JOB = 'bench.job';
/** Shards of the `bench-sharded` consumer; a raw publisher sends the matching `x-warren-shard-<N>` header. */
export const BENCH_SHARDS = 4;

/** The queue type of the benchmark's consumers; unset means the topology default (quorum). */
export type BenchQueueType = 'classic' | 'quorum' | undefined;

export function benchTopologyYaml(prefetch: number, queueType?: BenchQueueType): string {
  const queueOptions = queueType === undefined ? '' : `\n    queueOptions: { type: ${queueType} }`;
  return `version: 1
exchanges:
  ${BENCH_EXCHANGE}: { type: direct }
jobs:
  ${BENCH_JOB}:
    exchange: ${BENCH_EXCHANGE}
    routingKey: ${BENCH_JOB}
    orderingKey: key
    schema:
      type: object
      required: [key, sentAt, note]
      properties:
        key: { type: string }
        sentAt: { type: number }
        note: { type: string }
consumers:
  bench:
    source: { exchange: ${BENCH_EXCHANGE}, pattern: ${BENCH_JOB} }
    prefetch: ${prefetch}${queueOptions}
    retry: { delays: [1s] }
  bench-sharded:
    source: { exchange: ${BENCH_EXCHANGE}, pattern: ${BENCH_JOB}.sharded }
    shards: ${BENCH_SHARDS}
    prefetch: ${prefetch}${queueOptions}
    retry: { delays: [1s] }
`;
}

export function benchPlanWith(prefetch: number, queueType?: BenchQueueType): TopologyPlan {
  const parsed = parseTopology(benchTopologyYaml(prefetch, queueType), 'bench.yaml');
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join('\n'));
  return parsed.value.plan;
}

/** A job payload of about 512 bytes once serialized. */
export function benchJob(key: string, sentAt = 0): Buffer {
  const head = JSON.stringify({ key, sentAt, note: '' });
  return Buffer.from(JSON.stringify({ key, sentAt, note: 'x'.repeat(Math.max(0, 512 - head.length)) }));
}
