import type { QueueProbe } from './queues.ts';
import { summarizeWindows, unsubscribedWindows, type Sample, type Window } from './timeline.ts';

export interface SubscriptionReport {
  consumer: string;
  /** Spells with a queue of the consumer showing no consumer (or not answering). */
  spells: Window[];
  totalMs: number;
  longestMs: number;
}

/**
 * Samples every consumer's work queues once a second while the run is
 * under fire: a consumer is subscribed when each of its queues (every shard
 * of a sharded one) answers with at least one consumer. Gives, per consumer,
 * how long it was not — after a worker SIGKILL (until the new process
 * subscribes) and after a node loss (until the consumer re-subscribes).
 */
export class SubscriptionMonitor {
  private readonly samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly latest = new Map<string, boolean>();
  /** When sampling began (epoch ms). */
  startedAt = Date.now();

  constructor(
    private readonly probe: QueueProbe,
    private readonly queuesOf: ReadonlyMap<string, readonly string[]>,
    private readonly everyMs = 1_000,
  ) {
    for (const consumer of queuesOf.keys()) this.samples.set(consumer, []);
  }

  start(): void {
    this.startedAt = Date.now();
    const tick = () => {
      this.running = this.sample().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Whether the last sample found the consumer subscribed (false before the first sample). */
  isSubscribed(consumer: string): boolean {
    return this.latest.get(consumer) === true;
  }

  async stop(): Promise<SubscriptionReport[]> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    return [...this.samples].map(([consumer, samples]) => {
      const spells = unsubscribedWindows(samples);
      const { totalMs, longestMs } = summarizeWindows(spells);
      return { consumer, spells, totalMs, longestMs };
    });
  }

  private async sample(): Promise<void> {
    const queues = [...this.queuesOf.values()].flat();
    const stats = new Map((await this.probe.stats(queues)).map((s) => [s.queue, s.consumers]));
    const at = Date.now();
    for (const [consumer, own] of this.queuesOf) {
      const subscribed = own.every((queue) => (stats.get(queue) ?? 0) > 0);
      this.samples.get(consumer)?.push({ at, subscribed });
      this.latest.set(consumer, subscribed);
    }
  }
}
