import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerConnection } from '../broker/connection.ts';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { registerLagMetrics, type LagPollOptions } from './lag-metrics.ts';
import type { QueueLag } from './queue-lag.ts';
import type { StreamOverview } from '../streams/group-admin.ts';
import { registerStreamLagMetrics, type StreamLagPollOptions } from '../streams/stream-lag-metrics.ts';

export interface ProducerMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  publishSeconds: Histogram<'outcome'>;
}

/**
 * The producer's metrics, in a registry of its own (several producers can
 * live in one process, e.g. in tests). Gauges read the broker state when
 * scraped, so the hot path only bumps a counter and observes a histogram.
 */
export interface LagSource extends LagPollOptions {
  plan: Pick<TopologyPlan, 'consumers'>;
  /** The topology's queues as the management API sees them (`queueLag`). */
  read: () => Promise<QueueLag[]>;
}

export interface StreamLagSource extends StreamLagPollOptions {
  /** The topology's streams: end offsets, and group offsets when `DATABASE_URL` is set (`streamsOverview`). */
  read: () => Promise<StreamOverview[]>;
}

export function createMetrics(connection: BrokerConnection, publisher: ConfirmPublisher, lag?: LagSource, streamLag?: StreamLagSource): ProducerMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'warren_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const publishSeconds = new Histogram({
    name: 'warren_publish_seconds',
    help: 'Time from publish to broker confirm (or failure), by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'warren_publishes_in_flight',
    help: 'Publishes awaiting a broker confirm',
    registers: [registry],
    collect() {
      this.set(publisher.inFlight);
    },
  });
  new Gauge({
    name: 'warren_broker_connected',
    help: '1 while connected to the broker',
    registers: [registry],
    collect() {
      this.set(connection.state.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'warren_broker_blocked',
    help: '1 while the broker blocks publishing (memory or disk alarm)',
    registers: [registry],
    collect() {
      this.set(connection.state.blocked === undefined ? 0 : 1);
    },
  });
  // Consumer lag per consumer, from the management API (lag-metrics.ts).
  if (lag !== undefined) registerLagMetrics(registry, lag.plan, lag.read, lag);
  // Stream end offsets and consumer-group lag, read by subscription and from PostgreSQL (stream-lag-metrics.ts).
  if (streamLag !== undefined) registerStreamLagMetrics(registry, streamLag.read, streamLag);
  return { registry, requests, publishSeconds };
}
