import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Outcome } from './context.ts';

/**
 * Worker metrics (prom-client), one registry per Worker so several workers
 * in one process (or in tests) never collide. Labelled by consumer.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly received: Counter<'consumer'>;
  readonly succeeded: Counter<'consumer'>;
  readonly retried: Counter<'consumer'>;
  readonly deadLettered: Counter<'consumer' | 'reason'>;
  readonly duplicates: Counter<'consumer'>;
  readonly released: Counter<'consumer'>;
  readonly inFlight: Gauge<'consumer'>;
  /** 1 while the consumer consumes from the queue, 0 while it waits to re-subscribe. */
  readonly subscribed: Gauge<'consumer' | 'queue'>;
  readonly resubscribed: Counter<'consumer' | 'queue'>;
  readonly duration: Histogram<'consumer' | 'outcome'>;
  private readonly children = new Map<string, { counter: { inc(): void }; duration: { observe(value: number): void } }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.received = new Counter({ name: 'warren_worker_received_total', help: 'Deliveries received', labelNames: ['consumer'], registers });
    this.succeeded = new Counter({ name: 'warren_worker_succeeded_total', help: 'Jobs handled and acked', labelNames: ['consumer'], registers });
    this.retried = new Counter({ name: 'warren_worker_retried_total', help: 'Failed attempts sent to a retry tier or retried in place', labelNames: ['consumer'], registers });
    this.deadLettered = new Counter({ name: 'warren_worker_dead_lettered_total', help: 'Jobs sent to the DLQ', labelNames: ['consumer', 'reason'], registers });
    this.duplicates = new Counter({ name: 'warren_worker_duplicates_skipped_total', help: 'Deliveries of jobs already done, acked without running', labelNames: ['consumer'], registers });
    this.released = new Counter({ name: 'warren_worker_released_total', help: 'Deliveries left for redelivery (shutdown, lost channel)', labelNames: ['consumer'], registers });
    this.inFlight = new Gauge({ name: 'warren_worker_in_flight', help: 'Deliveries received and not yet settled', labelNames: ['consumer'], registers });
    this.subscribed = new Gauge({
      name: 'warren_worker_consumer_subscribed',
      help: '1 while the consumer is subscribed to the queue, 0 while it is not (cancelled by the broker, channel or connection lost)',
      labelNames: ['consumer', 'queue'],
      registers,
    });
    this.resubscribed = new Counter({
      name: 'warren_worker_consumer_resubscribes_total',
      help: 'Times the consumer subscribed to the queue again after losing it',
      labelNames: ['consumer', 'queue'],
      registers,
    });
    this.duration = new Histogram({
      name: 'warren_worker_handler_duration_seconds',
      help: 'Time from receipt to settle, by outcome',
      labelNames: ['consumer', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Per job: the labelled children are looked up once per (consumer, outcome[, reason]) and kept,
   * since prom-client hashes the label set on every call otherwise (it showed in the consume profile).
   */
  record(consumer: string, outcome: Outcome, seconds: number, reason?: string): void {
    const key = `${consumer}\u0000${outcome}\u0000${reason ?? ''}`;
    let children = this.children.get(key);
    if (children === undefined) {
      const counter =
        outcome === 'succeeded'
          ? this.succeeded.labels({ consumer })
          : outcome === 'duplicate'
            ? this.duplicates.labels({ consumer })
            : outcome === 'retried'
              ? this.retried.labels({ consumer })
              : outcome === 'dead-lettered'
                ? this.deadLettered.labels({ consumer, reason: reason ?? 'unknown' })
                : this.released.labels({ consumer });
      children = { counter, duration: this.duration.labels({ consumer, outcome }) };
      this.children.set(key, children);
    }
    children.counter.inc();
    children.duration.observe(seconds);
  }
}

/** What `/healthz` answers: 200 with the body while `healthy`, else 503. */
export interface HealthReport {
  healthy: boolean;
  body: Record<string, unknown>;
}

/** `/metrics` (Prometheus text) and `/healthz` (200 while healthy, else 503 saying why), on all interfaces unless told otherwise. */
export async function startMetricsServer(metrics: { registry: Pick<Registry, 'metrics' | 'contentType'> }, port: number, health: () => HealthReport, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      const report = health();
      res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(report.body));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'not found' } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
