/**
 * Pure: `GET /v1/queues` rows → one summary per consumer, and the history
 * of those summaries that the overview's charts and problem flags read.
 * No DOM, unit-tested.
 */

/** One row of `GET /v1/queues`. */
export interface QueueRow {
  name: string;
  exists: boolean;
  messagesReady: number;
  messagesUnacked: number;
  consumers: number;
  publishRate: number | null;
  ackRate: number | null;
  deliverRate: number | null;
  headMessageTimestamp: number | null;
  consumer: string | null;
  kind: 'work' | 'retry' | 'dead-letter' | 'delay' | null;
}

/** The overview's row for every queue of the delayed-jobs levels together. */
export const DELAYED_JOBS = 'delayed jobs';

export interface ConsumerSummary {
  /** The consumer's name, a plain queue's, or `DELAYED_JOBS`. */
  name: string;
  /** The delayed-jobs row holds jobs until due: nothing consumes it, and its "lag" is the jobs waiting. */
  delays: boolean;
  /** Every work queue exists and has at least one consumer. */
  subscribed: boolean;
  /** Consumers on the work queue(s), summed over shards. */
  consumers: number;
  workQueues: number;
  /** Ready + unacked over the work queue(s). */
  lag: number;
  /** Published into the work queue(s), per second (null until sampled). */
  rateIn: number | null;
  /** Acked from the work queue(s), per second. */
  rateOut: number | null;
  /** Messages waiting in the retry tiers. */
  retries: number;
  /** Messages in the DLQ; null when the consumer has none. */
  dlqDepth: number | null;
  dlq: string | null;
  /** Seconds since the epoch of the oldest head message, when the broker tells. */
  oldestHead: number | null;
  /** Some of its queues are not declared on the broker. */
  missing: boolean;
}

export function summarize(rows: readonly QueueRow[]): ConsumerSummary[] {
  const byName = new Map<string, QueueRow[]>();
  for (const row of rows) {
    const owner = row.kind === 'delay' ? DELAYED_JOBS : row.consumer ?? (row.name.endsWith('.dlq') && rows.some((other) => other.name === row.name.slice(0, -4)) ? row.name.slice(0, -4) : row.name);
    const list = byName.get(owner) ?? [];
    list.push(row);
    byName.set(owner, list);
  }
  return [...byName.entries()].map(([name, queues]) => {
    const dlqRow = queues.find((row) => row.kind === 'dead-letter' || (row.kind === null && row.name === `${name}.dlq`));
    const work = queues.filter((row) => row !== dlqRow && row.kind !== 'retry');
    const retry = queues.filter((row) => row.kind === 'retry');
    const sumRate = (key: 'publishRate' | 'ackRate'): number | null =>
      work.every((row) => row[key] === null) ? null : work.reduce((sum, row) => sum + (row[key] ?? 0), 0);
    const heads = work.map((row) => row.headMessageTimestamp).filter((value): value is number => value !== null);
    const delays = queues.every((row) => row.kind === 'delay');
    return {
      name,
      delays,
      // A consumer group's DLQ comes alone (the group reads a stream, not a work queue): nothing there to subscribe to.
      subscribed: delays || work.length === 0 || work.every((row) => row.exists && row.consumers > 0),
      consumers: work.reduce((sum, row) => sum + row.consumers, 0),
      workQueues: work.length,
      lag: work.reduce((sum, row) => sum + row.messagesReady + row.messagesUnacked, 0),
      rateIn: sumRate('publishRate'),
      rateOut: sumRate('ackRate'),
      retries: retry.reduce((sum, row) => sum + row.messagesReady + row.messagesUnacked, 0),
      dlqDepth: dlqRow === undefined ? null : dlqRow.messagesReady + dlqRow.messagesUnacked,
      dlq: dlqRow?.name ?? null,
      oldestHead: heads.length === 0 ? null : Math.min(...heads),
      missing: queues.some((row) => !row.exists),
    };
  });
}

/** The series each consumer's charts draw. */
export type Metric = 'lag' | 'rateIn' | 'rateOut' | 'retries' | 'dlqDepth';
export const METRICS: readonly Metric[] = ['lag', 'rateIn', 'rateOut', 'retries', 'dlqDepth'];

export interface Sample {
  at: number;
  values: Record<Metric, number>;
}

/** A bounded window of samples per consumer (the last `windowMs`). */
export class History {
  private readonly samples = new Map<string, Sample[]>();

  constructor(private readonly windowMs = 10 * 60_000) {}

  add(at: number, summaries: readonly ConsumerSummary[]): void {
    for (const summary of summaries) {
      const list = this.samples.get(summary.name) ?? [];
      list.push({
        at,
        values: {
          lag: summary.lag,
          rateIn: summary.rateIn ?? 0,
          rateOut: summary.rateOut ?? 0,
          retries: summary.retries,
          dlqDepth: summary.dlqDepth ?? 0,
        },
      });
      while (list.length > 0 && (list[0]?.at ?? at) < at - this.windowMs) list.shift();
      this.samples.set(summary.name, list);
    }
  }

  series(name: string, metric: Metric): Array<{ at: number; value: number }> {
    return (this.samples.get(name) ?? []).map((sample) => ({ at: sample.at, value: sample.values[metric] }));
  }
}

export type Problem = 'not-subscribed' | 'missing' | 'dlq-growing' | 'lag-growing';

/** What is wrong with a consumer now, its history (oldest first) considered over the last `lookbackMs`. */
export function problemsOf(summary: ConsumerSummary, history: History, now: number, lookbackMs = 60_000): Problem[] {
  const problems: Problem[] = [];
  if (summary.missing) problems.push('missing');
  else if (!summary.subscribed) problems.push('not-subscribed');
  if (growing(history.series(summary.name, 'dlqDepth'), now, lookbackMs)) problems.push('dlq-growing');
  // Jobs scheduled for later pile up by design.
  if (!summary.delays && growing(history.series(summary.name, 'lag'), now, lookbackMs)) problems.push('lag-growing');
  return problems;
}

/** Rose over the lookback and did not fall back since: the last value is the highest of at least three samples, above the first. */
function growing(series: Array<{ at: number; value: number }>, now: number, lookbackMs: number): boolean {
  const recent = series.filter((point) => point.at >= now - lookbackMs);
  if (recent.length < 3) return false;
  const first = recent[0]?.value ?? 0;
  const last = recent.at(-1)?.value ?? 0;
  return last > first && recent.every((point) => point.value <= last);
}

export const PROBLEM_TEXT: Record<Problem, string> = {
  'not-subscribed': 'not subscribed',
  missing: 'queue missing',
  'dlq-growing': 'DLQ growing',
  'lag-growing': 'lag growing',
};
