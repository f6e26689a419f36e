import { Counter, Gauge, type Registry } from 'prom-client';
import { BoundedPoll, type Polled, type PollOptions } from '../producer/bounded-poll.ts';
import type { StreamOverview } from './group-admin.ts';

/**
 * Stream lag as Prometheus gauges, exported by the producer's `/metrics`
 * when the topology has streams: each partition's end offset and, with
 * `DATABASE_URL`, each group's committed offset and lag per partition. The
 * end offsets cost a subscription per partition (RabbitMQ 3.10 has no call
 * for them; see positions.ts), so a scrape reads them through a bounded poll
 * (bounded-poll.ts): at most once per `minIntervalMs`, every partition at
 * once, failed past `timeoutMs`. A failed poll drops the series (no stale
 * number shown as current) and sets `warren_stream_lag_poll_up` to 0.
 */

export interface StreamLagSample {
  labels: Record<string, string>;
  value: number;
}

export interface StreamLagSamples {
  /** `{stream, partition}`: offset of the partition's last record (absent while it is empty). */
  end: StreamLagSample[];
  /** `{stream, group, partition}`: offset of the last record the group applied (absent before its first commit). */
  committed: StreamLagSample[];
  /** `{stream, group, partition}`: end − committed, in records at most (absent before the group's first commit). */
  lag: StreamLagSample[];
  /** `{stream, group}`: members whose heartbeat is recorded. */
  members: StreamLagSample[];
}

/** Pure: the streams' overview → the samples of each gauge. */
export function streamLagSamples(streams: readonly StreamOverview[]): StreamLagSamples {
  const samples: StreamLagSamples = { end: [], committed: [], lag: [], members: [] };
  for (const stream of streams) {
    stream.ends.forEach((end, partition) => {
      if (end !== null) samples.end.push({ labels: { stream: stream.stream, partition: String(partition) }, value: end });
    });
    for (const group of stream.groups ?? []) {
      samples.members.push({ labels: { stream: stream.stream, group: group.group }, value: group.members });
      for (const status of group.partitions) {
        const labels = { stream: stream.stream, group: group.group, partition: String(status.partition) };
        if (status.committed !== null) samples.committed.push({ labels, value: status.committed });
        if (status.lag !== null) samples.lag.push({ labels, value: status.lag });
      }
    }
  }
  return samples;
}

export interface StreamLagPollOptions extends PollOptions {
  /** Scrapes within this long of the last poll reuse its answer. @defaultValue 10_000 */
  minIntervalMs?: number;
  /** A poll slower than this fails (each partition's read waits ~0.7 s for the broker to go quiet). @defaultValue 5_000 */
  timeoutMs?: number;
}

export type StreamLagSnapshot = Polled<{ samples: StreamLagSamples }>;

/** The stream lag gauges in `registry`, filled from one poll per scrape (see lag-metrics.ts for the pattern). */
export function registerStreamLagMetrics(registry: Registry, read: () => Promise<StreamOverview[]>, options: StreamLagPollOptions = {}): BoundedPoll<{ samples: StreamLagSamples }> {
  const registers = [registry];
  const failures = new Counter({
    name: 'warren_stream_lag_poll_failures_total',
    help: 'Stream lag polls (end offsets by subscription, group offsets from PostgreSQL) that failed or timed out',
    registers,
    collect: () => fill(),
  });
  const poll = new BoundedPoll(async () => ({ samples: streamLagSamples(await read()) }), 'reading the stream offsets', {
    ...options,
    minIntervalMs: options.minIntervalMs ?? 10_000,
    timeoutMs: options.timeoutMs ?? 5_000,
    onFailure: (error) => {
      failures.inc();
      options.onFailure?.(error);
    },
  });
  let applied: StreamLagSnapshot | undefined;
  const fill = async (): Promise<void> => {
    const snapshot = await poll.snapshot();
    if (snapshot === applied) return;
    applied = snapshot;
    for (const gauge of gauges) gauge.reset();
    up.set(snapshot.ok ? 1 : 0);
    if (!snapshot.ok) return;
    for (const [gauge, samples] of [
      [end, snapshot.samples.end],
      [committed, snapshot.samples.committed],
      [lag, snapshot.samples.lag],
      [members, snapshot.samples.members],
    ] as const) {
      for (const sample of samples) gauge.set(sample.labels, sample.value);
    }
  };
  const partitionLabels = ['stream', 'group', 'partition'] as const;
  const up = new Gauge({
    name: 'warren_stream_lag_poll_up',
    help: '1 when the last stream lag poll succeeded, else 0 (and the stream lag series are absent)',
    registers,
    collect: fill,
  });
  const end = new Gauge({
    name: 'warren_stream_end_offset',
    help: "Offset of the partition's last record (absent while it is empty)",
    labelNames: ['stream', 'partition'] as const,
    registers,
    collect: fill,
  });
  const committed = new Gauge({
    name: 'warren_stream_group_committed_offset',
    help: 'Offset of the last record the consumer group applied on the partition (PostgreSQL)',
    labelNames: partitionLabels,
    registers,
    collect: fill,
  });
  const lag = new Gauge({
    name: 'warren_stream_group_lag',
    help: "Records between the group's committed offset and the partition's end (an upper bound: offsets are not dense); absent before the group's first commit",
    labelNames: partitionLabels,
    registers,
    collect: fill,
  });
  const members = new Gauge({
    name: 'warren_stream_group_members',
    help: 'Members of the consumer group with a recorded heartbeat',
    labelNames: ['stream', 'group'] as const,
    registers,
    collect: fill,
  });
  const gauges: Gauge<string>[] = [end, committed, lag, members];
  return poll;
}
