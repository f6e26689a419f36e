import { ManagementClient } from '../broker/management.ts';
import { queueLag, type QueueLag } from '../producer/queue-lag.ts';
import type { ConsumerPlan, TopologyPlan } from '../topology/plan.ts';
import { emptyCounters, parseStreamLag, parseWorkerMetrics, type ConsumerCounters, type StreamLagReading } from './metrics-text.ts';
import type { WorkerProcess } from './worker-process.ts';

/**
 * One reading of every consumer: its worker's counters (from `/metrics`) and
 * its queues (from the management API, which samples every few seconds).
 */
export interface ConsumerStatus {
  consumer: string;
  /** `down`: the worker process does not answer (exited or stuck). */
  state: 'running' | 'skipped' | 'down';
  counters: ConsumerCounters;
  /** Ready + unacked in its work queue(s). */
  lag: number;
  /** Messages waiting in its retry tiers. */
  retrying: number;
  /** Messages in its DLQ. */
  inDlq: number;
}

export interface Snapshot {
  /** ms since the epoch. */
  at: number;
  consumers: ConsumerStatus[];
  /** Each stream consumer group's lag, from the producer's `/metrics`; absent when the topology has no streams. */
  streams?: StreamLagReading;
}

export interface SnapshotSource {
  plan: TopologyPlan;
  vhost: string;
  managementUrl: string;
  workers: readonly WorkerProcess[];
  /** The session's producer, whose `/metrics` has the stream lag (it reads the end offsets at most every 10 s). */
  producer?: { url: string };
}

/** Longer than the producer's stream lag poll may take (5 s), so a slow poll shows as its failure, not as a missing reading. */
const PRODUCER_METRICS_TIMEOUT_MS = 7_000;

async function readStreamLag(source: SnapshotSource): Promise<StreamLagReading | undefined> {
  if ((source.plan.streams ?? []).length === 0) return undefined;
  if (source.producer === undefined) return { ok: false, reason: 'no producer' };
  try {
    const response = await fetch(`${source.producer.url}/metrics`, { signal: AbortSignal.timeout(PRODUCER_METRICS_TIMEOUT_MS) });
    if (!response.ok) return { ok: false, reason: `the producer's /metrics answered ${response.status}` };
    return parseStreamLag(await response.text());
  } catch (error) {
    return { ok: false, reason: `the producer's /metrics did not answer: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export async function takeSnapshot(source: SnapshotSource): Promise<Snapshot> {
  const [texts, queues, streams] = await Promise.all([
    Promise.all(source.workers.map(async (worker) => [worker.consumer, await worker.metrics()] as const)),
    queueLag(new ManagementClient(source.managementUrl), source.plan, source.vhost).catch((): QueueLag[] => []),
    readStreamLag(source),
  ]);
  const metricsOf = new Map(texts);
  const depth = new Map(queues.map((q) => [q.name, q.messagesReady + q.messagesUnacked]));
  const sum = (names: readonly string[]) => names.reduce((total, name) => total + (depth.get(name) ?? 0), 0);
  return {
    at: Date.now(),
    consumers: source.plan.consumers.map((consumer) => ({
      consumer: consumer.name,
      ...countersOf(consumer, metricsOf),
      lag: sum(consumer.queues),
      retrying: sum(consumer.retry.tiers.map((tier) => tier.queue)),
      inDlq: sum([consumer.deadLetter.queue]),
    })),
    ...(streams !== undefined && { streams }),
  };
}

function countersOf(consumer: ConsumerPlan, metricsOf: ReadonlyMap<string, string | undefined>): Pick<ConsumerStatus, 'state' | 'counters'> {
  if (!metricsOf.has(consumer.name)) return { state: 'skipped', counters: emptyCounters() };
  const text = metricsOf.get(consumer.name);
  if (text === undefined) return { state: 'down', counters: emptyCounters() };
  return { state: 'running', counters: parseWorkerMetrics(text).get(consumer.name) ?? emptyCounters() };
}
