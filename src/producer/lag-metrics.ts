import { Counter, Gauge, type Registry } from 'prom-client';
import type { TopologyPlan } from '../topology/plan.ts';
import { BoundedPoll, type Polled, type PollOptions } from './bounded-poll.ts';
import type { QueueLag } from './queue-lag.ts';

/**
 * Consumer lag as Prometheus gauges, exported by the producer's `/metrics`
 * (one process sees every consumer's queues, so each series has one source
 * however many workers run). A scrape reads the management API through a
 * bounded poll: at most one call per `minIntervalMs` (the broker refreshes
 * its queue statistics every 5 s anyway), scrapes in between share the last
 * answer, and a call that outlasts `timeoutMs` fails the poll. When a poll
 * fails the lag series are dropped — no stale number is shown as current —
 * and `warren_lag_poll_up` is 0.
 */

export type QueueKind = 'work' | 'retry' | 'dead-letter';

export interface ConsumerQueueLag {
  consumer: string;
  queue: string;
  kind: QueueKind;
  lag: QueueLag;
}

export interface ConsumerLag {
  consumer: string;
  /** Ready + unacked over the consumer's work queue(s) (every shard of a sharded consumer). */
  messages: number;
  /**
   * Age of the oldest message waiting (ready) in its work queues: 0 when
   * none waits, `undefined` when one waits in a queue whose head timestamp
   * the broker does not report (quorum queues on RabbitMQ 3.10).
   */
  oldestAgeSeconds: number | undefined;
  queues: ConsumerQueueLag[];
}

/** Pure: the topology's consumers and the broker's queue rows → lag per consumer. */
export function consumerLag(plan: Pick<TopologyPlan, 'consumers'>, lags: readonly QueueLag[], nowMs: number): ConsumerLag[] {
  const byName = new Map(lags.map((lag) => [lag.name, lag]));
  return plan.consumers.map((consumer) => {
    const queues: ConsumerQueueLag[] = [];
    const add = (queue: string, kind: QueueKind) => {
      const lag = byName.get(queue);
      if (lag !== undefined && lag.exists) queues.push({ consumer: consumer.name, queue, kind, lag });
    };
    for (const queue of consumer.queues) add(queue, 'work');
    for (const tier of consumer.retry.tiers) add(tier.queue, 'retry');
    add(consumer.deadLetter.queue, 'dead-letter');
    const work = queues.filter((q) => q.kind === 'work');
    let messages = 0;
    let oldestAgeSeconds: number | undefined = 0;
    for (const { lag } of work) {
      messages += lag.messagesReady + lag.messagesUnacked;
      if (lag.messagesReady === 0 || oldestAgeSeconds === undefined) continue;
      if (lag.headMessageTimestamp === null) oldestAgeSeconds = undefined;
      else oldestAgeSeconds = Math.max(oldestAgeSeconds, Math.max(0, nowMs / 1000 - lag.headMessageTimestamp));
    }
    return { consumer: consumer.name, messages, oldestAgeSeconds, queues };
  });
}

export interface LagPollOptions extends PollOptions {
  /** Scrapes within this long of the last poll reuse its answer. @defaultValue 5_000 */
  minIntervalMs?: number;
  /** A management call slower than this fails the poll. @defaultValue 3_000 */
  timeoutMs?: number;
  /** Told of each failed poll (counted by `warren_lag_poll_failures_total`). */
  onFailure?: (error: unknown) => void;
}

export type LagSnapshot = Polled<{ consumers: ConsumerLag[] }>;

/** One management call per interval at most, shared by concurrent scrapes, bounded in time. */
export class LagPoller extends BoundedPoll<{ consumers: ConsumerLag[] }> {
  constructor(plan: Pick<TopologyPlan, 'consumers'>, read: () => Promise<QueueLag[]>, options: LagPollOptions = {}) {
    const now = options.now ?? Date.now;
    super(async () => ({ consumers: consumerLag(plan, await read(), now()) }), 'management API', {
      ...options,
      minIntervalMs: options.minIntervalMs ?? 5_000,
      timeoutMs: options.timeoutMs ?? 3_000,
    });
  }
}

/**
 * The lag gauges in `registry`, filled from one poll per scrape: every
 * gauge's collect awaits the same snapshot, and the first to see a new one
 * writes all of them (the registry reads the gauges concurrently).
 */
export function registerLagMetrics(
  registry: Registry,
  plan: Pick<TopologyPlan, 'consumers'>,
  read: () => Promise<QueueLag[]>,
  options: LagPollOptions = {},
): LagPoller {
  const registers = [registry];
  const failures = new Counter({
    name: 'warren_lag_poll_failures_total',
    help: 'Lag polls of the management API that failed or timed out',
    registers,
    // So a scrape counts the failure of the poll it triggered itself.
    collect: () => fill(),
  });
  const poller = new LagPoller(plan, read, { ...options, onFailure: () => failures.inc() });
  let applied: LagSnapshot | undefined;
  const fill = async (): Promise<void> => {
    const snapshot = await poller.snapshot();
    if (snapshot === applied) return;
    applied = snapshot;
    for (const gauge of gauges) gauge.reset();
    up.set(snapshot.ok ? 1 : 0);
    if (!snapshot.ok) return;
    for (const consumer of snapshot.consumers) {
      lagMessages.set({ consumer: consumer.consumer }, consumer.messages);
      if (consumer.oldestAgeSeconds !== undefined) oldestAge.set({ consumer: consumer.consumer }, consumer.oldestAgeSeconds);
      for (const { queue, kind, lag } of consumer.queues) {
        const labels = { consumer: consumer.consumer, queue, kind };
        ready.set(labels, lag.messagesReady);
        unacked.set(labels, lag.messagesUnacked);
        consumers.set(labels, lag.consumers);
      }
    }
  };
  const consumerLabels = ['consumer'] as const;
  const queueLabels = ['consumer', 'queue', 'kind'] as const;
  const up = new Gauge({
    name: 'warren_lag_poll_up',
    help: '1 when the last lag poll of the management API succeeded, else 0 (and the lag series are absent)',
    registers,
    collect: fill,
  });
  const lagMessages = new Gauge({
    name: 'warren_consumer_lag_messages',
    help: "Messages in the consumer's work queue(s), ready + unacked (management API, refreshed at most every few seconds)",
    labelNames: consumerLabels,
    registers,
    collect: fill,
  });
  const oldestAge = new Gauge({
    name: 'warren_consumer_oldest_message_age_seconds',
    help: "Age of the oldest ready message in the consumer's work queue(s), from its timestamp; absent when the broker does not report it (quorum queues on RabbitMQ 3.10)",
    labelNames: consumerLabels,
    registers,
    collect: fill,
  });
  const ready = new Gauge({ name: 'warren_queue_messages_ready', help: 'Ready messages per queue of a consumer (kind: work, retry, dead-letter)', labelNames: queueLabels, registers, collect: fill });
  const unacked = new Gauge({ name: 'warren_queue_messages_unacked', help: 'Delivered, not yet acked messages per queue of a consumer', labelNames: queueLabels, registers, collect: fill });
  const consumers = new Gauge({ name: 'warren_queue_consumers', help: 'Subscribed consumers per queue of a consumer', labelNames: queueLabels, registers, collect: fill });
  const gauges = [lagMessages, oldestAge, ready, unacked, consumers];
  return poller;
}
