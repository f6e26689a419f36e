import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConfirmPublisher } from '../../src/broker/confirm-publisher.ts';
import type { BrokerConnection } from '../../src/broker/connection.ts';
import { createMetrics } from '../../src/producer/metrics.ts';
import { WorkerMetrics } from '../../src/worker/metrics.ts';

/**
 * dashboards/warren.json is a Grafana dashboard model, and every query in
 * it names a metric warren really registers: the names come from the
 * producer's and the worker's prom-client registries, not from a list.
 */
const dashboard: unknown = JSON.parse(readFileSync(new URL('../../dashboards/warren.json', import.meta.url), 'utf8'));

const Datasource = z.strictObject({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });
const GridPos = z.strictObject({ h: z.number().int().positive(), w: z.number().int().min(1).max(24), x: z.number().int().min(0).max(23), y: z.number().int().min(0) });
const Target = z.object({ refId: z.string().min(1), expr: z.string().min(1), datasource: Datasource, legendFormat: z.string().optional() });
const Row = z.object({ id: z.number().int(), type: z.literal('row'), title: z.string().min(1), gridPos: GridPos, collapsed: z.boolean(), panels: z.array(z.unknown()) });
const Panel = z.object({
  id: z.number().int(),
  type: z.enum(['timeseries', 'stat', 'gauge', 'bargauge', 'table']),
  title: z.string().min(1),
  datasource: Datasource,
  gridPos: GridPos,
  fieldConfig: z.object({ defaults: z.object({}).passthrough(), overrides: z.array(z.unknown()) }),
  targets: z.array(Target).min(1),
});
const Dashboard = z.object({
  uid: z.string().min(1).max(40),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(30),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({
    list: z.array(z.object({ name: z.string().regex(/^\w+$/), type: z.enum(['datasource', 'query', 'custom', 'interval', 'constant']) }).passthrough()),
  }),
  panels: z.array(z.union([Row, Panel])).min(1),
});

function registeredMetricNames(): Set<string> {
  // With a stream lag source, as a producer whose topology has streams.
  const producer = createMetrics({} as BrokerConnection, {} as ConfirmPublisher, { plan: { consumers: [] }, read: async () => [] }, { read: async () => [] });
  const worker = new WorkerMetrics();
  return new Set([...producer.registry.getMetricsAsArray(), ...worker.registry.getMetricsAsArray()].map((metric) => metric.name));
}

/** Metric names in a PromQL expression: warren's own, with a histogram's series suffix taken off. */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\b(warren_[a-z0-9_]+)/g)].map((match) => (match[1] as string).replace(/_(bucket|sum|count)$/, ''));
}

describe('the Grafana dashboard', () => {
  const parsed = Dashboard.parse(dashboard);
  const panels = parsed.panels.filter((panel): panel is z.infer<typeof Panel> => panel.type !== 'row');

  it('is a dashboard model: unique panel ids, panels inside the 24-column grid, unique refIds per panel', () => {
    const ids = parsed.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of parsed.panels) expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    for (const panel of panels) {
      const refIds = panel.targets.map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });

  it('picks its Prometheus data source from a variable, and every variable a query uses is defined', () => {
    const variables = parsed.templating.list;
    expect(variables.find((variable) => variable.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const defined = new Set([...variables.map((variable) => variable.name), '__rate_interval', '__interval', '__range']);
    for (const panel of panels) {
      for (const target of panel.targets) {
        for (const match of target.expr.matchAll(/\$\{?(\w+)/g)) expect(defined, `${panel.title}: $${match[1]}`).toContain(match[1]);
      }
    }
  });

  it('queries only metrics that warren registers', () => {
    const registered = registeredMetricNames();
    expect(registered.size).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const panel of panels) {
      for (const target of panel.targets) {
        const names = metricsOf(target.expr);
        expect(names.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(registered, `${panel.title}: ${target.expr}`).toContain(name);
          used.add(name);
        }
      }
    }
    // What the dashboard is for: throughput, lag, retries, dead letters, handler latency per consumer.
    for (const name of [
      'warren_publish_seconds',
      'warren_consumer_lag_messages',
      'warren_consumer_oldest_message_age_seconds',
      'warren_worker_retried_total',
      'warren_worker_dead_lettered_total',
      'warren_worker_handler_duration_seconds',
      'warren_stream_group_lag',
    ]) {
      expect(used).toContain(name);
    }
  });

  it('the metric check can fail: a misspelt name is not registered', () => {
    expect(registeredMetricNames()).not.toContain(metricsOf('rate(warren_worker_retired_total[5m])')[0]);
  });
});
