/**
 * Pure: the worker counters `warren up` shows, read from the Prometheus
 * text that a worker's `/metrics` serves (src/worker/metrics.ts names), and
 * the stream groups' lag, read from the producer's (stream-lag-metrics.ts).
 */

export interface ConsumerCounters {
  received: number;
  /** Handled and acked: the job's effect was applied. */
  succeeded: number;
  /** Failed attempts sent to a retry tier or retried in place. */
  retried: number;
  deadLettered: number;
  duplicates: number;
  inFlight: number;
}

const METRIC_FIELDS: Readonly<Record<string, keyof ConsumerCounters>> = {
  warren_worker_received_total: 'received',
  warren_worker_succeeded_total: 'succeeded',
  warren_worker_retried_total: 'retried',
  warren_worker_dead_lettered_total: 'deadLettered',
  warren_worker_duplicates_skipped_total: 'duplicates',
  warren_worker_in_flight: 'inFlight',
};

export function emptyCounters(): ConsumerCounters {
  return { received: 0, succeeded: 0, retried: 0, deadLettered: 0, duplicates: 0, inFlight: 0 };
}

/** Counters per `consumer` label; samples of one metric with other labels (e.g. `reason`) are summed. */
export function parseWorkerMetrics(text: string): Map<string, ConsumerCounters> {
  const byConsumer = new Map<string, ConsumerCounters>();
  for (const line of text.split('\n')) {
    const sample = parseSample(line);
    if (sample === undefined) continue;
    const field = METRIC_FIELDS[sample.name];
    const consumer = sample.labels.get('consumer');
    if (field === undefined || consumer === undefined) continue;
    const counters = byConsumer.get(consumer) ?? emptyCounters();
    counters[field] += sample.value;
    byConsumer.set(consumer, counters);
  }
  return byConsumer;
}

/** One consumer group's lag on one stream, per partition and summed. */
export interface StreamGroupLag {
  stream: string;
  group: string;
  /** Sum over the partitions the group has committed on. */
  lag: number;
  /** The partition that lags most. */
  worst: { partition: number; lag: number };
  /** Per partition, in partition order. */
  partitions: Array<{ partition: number; lag: number }>;
}

/** What the producer's `/metrics` says about stream lag: unknown while its last poll failed. */
export type StreamLagReading = { ok: true; groups: StreamGroupLag[] } | { ok: false; reason: string };

export function parseStreamLag(text: string): StreamLagReading {
  const byGroup = new Map<string, StreamGroupLag>();
  let up: number | undefined;
  for (const line of text.split('\n')) {
    const sample = parseSample(line);
    if (sample === undefined) continue;
    if (sample.name === 'warren_stream_lag_poll_up') up = sample.value;
    if (sample.name !== 'warren_stream_group_lag') continue;
    const stream = sample.labels.get('stream');
    const group = sample.labels.get('group');
    const partition = Number(sample.labels.get('partition'));
    if (stream === undefined || group === undefined || !Number.isInteger(partition)) continue;
    const key = JSON.stringify([stream, group]);
    const entry = byGroup.get(key) ?? { stream, group, lag: 0, worst: { partition, lag: sample.value }, partitions: [] };
    entry.lag += sample.value;
    entry.partitions.push({ partition, lag: sample.value });
    if (sample.value > entry.worst.lag) entry.worst = { partition, lag: sample.value };
    byGroup.set(key, entry);
  }
  if (up === undefined) return { ok: false, reason: 'the producer exports no stream lag' };
  if (up === 0) return { ok: false, reason: 'the last read of the stream offsets failed (see the producer log)' };
  const groups = [...byGroup.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group));
  for (const group of groups) group.partitions.sort((a, b) => a.partition - b.partition);
  return { ok: true, groups };
}

interface Sample {
  name: string;
  labels: Map<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseSample(line: string): Sample | undefined {
  if (line.startsWith('#')) return undefined;
  const match = SAMPLE.exec(line.trim());
  if (!match) return undefined;
  const value = Number(match[3]);
  if (!Number.isFinite(value)) return undefined;
  const labels = new Map<string, string>();
  for (const label of (match[2] ?? '').matchAll(LABEL)) {
    labels.set(label[1] as string, (label[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
  }
  return { name: match[1] as string, labels, value };
}
