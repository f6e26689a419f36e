import type { BenchRow } from './table.ts';

/**
 * Adapters from the HTTP-enqueue and DLQ-replay benchmarks (written with their
 * own row shapes) to the one table of `npm run bench`.
 */

interface HttpRow {
  name: string;
  requestsPerSecond: number | null;
  jobsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
}

/** Issue 13's targets: single enqueue vs the bare endpoint, its p99 (raw/warren, so >= 1/1.2), batch vs raw with the same conventions. */
const HTTP_TARGETS = { single: 0.9, singleP99: 1 / 1.2, batch: 0.8 } as const;

export function httpRows(rows: readonly HttpRow[]): BenchRow[] {
  const find = (prefix: string) => {
    const row = rows.find((r) => r.name.startsWith(prefix));
    if (row === undefined) throw new Error(`http bench gave no "${prefix}" row`);
    return row;
  };
  const raw = find('raw amqplib');
  const conventions = find('conventions:');
  const bare = find('bare express');
  const single = find('warren POST /v1/jobs/{type}');
  const batch = rows.find((r) => r.name.includes('/batch'));
  if (batch === undefined) throw new Error('http bench gave no batch row');
  const detail = (r: HttpRow) => `p50 ${r.p50Ms ?? '?'} ms, p99 ${r.p99Ms ?? '?'} ms, ${r.errors} errors`;
  const out: BenchRow[] = [
    { group: 'http', name: 'enqueue single (50 clients)', unit: 'jobs/s', warren: single.jobsPerSecond, raw: raw.jobsPerSecond, ratio: single.jobsPerSecond / raw.jobsPerSecond, note: detail(single) },
    { group: 'http', name: 'enqueue single vs bare express+confirm', unit: 'req/s', warren: single.jobsPerSecond, raw: bare.jobsPerSecond, ratio: single.jobsPerSecond / bare.jobsPerSecond, target: HTTP_TARGETS.single, note: `bare: ${detail(bare)}` },
    ...(single.p99Ms !== null && bare.p99Ms !== null
      ? [{ group: 'http', name: 'enqueue single p99 vs bare express+confirm', unit: 'ms', warren: single.p99Ms, raw: bare.p99Ms, ratio: bare.p99Ms / single.p99Ms, lowerIsBetter: true, target: HTTP_TARGETS.singleP99 } satisfies BenchRow]
      : []),
    {
      group: 'http',
      name: batch.name.replace('warren POST /v1/jobs/{type}/batch', 'enqueue batch'),
      unit: 'jobs/s',
      warren: batch.jobsPerSecond,
      raw: raw.jobsPerSecond,
      ratio: batch.jobsPerSecond / raw.jobsPerSecond,
      note: `${Math.round(batch.requestsPerSecond ?? 0)} req/s, ${detail(batch)}`,
    },
    {
      group: 'http',
      name: 'enqueue batch vs raw with warren headers',
      unit: 'jobs/s',
      warren: batch.jobsPerSecond,
      raw: conventions.jobsPerSecond,
      ratio: batch.jobsPerSecond / conventions.jobsPerSecond,
      target: HTTP_TARGETS.batch,
      note: 'raw publishes carry the same properties, headers and mandatory flag',
    },
  ];
  return out;
}

interface DlqRow {
  name: string;
  messages: number;
  perSecond: number;
}

export function dlqRows(rows: readonly DlqRow[]): BenchRow[] {
  const raw = rows.find((r) => r.name.startsWith('raw'));
  const warren = rows.find((r) => r.name.startsWith('warren'));
  if (raw === undefined || warren === undefined) throw new Error('dlq bench gave no raw/warren rows');
  return [
    {
      group: 'dlq',
      name: `replay ${warren.messages} dead letters`,
      unit: 'msg/s',
      warren: warren.perSecond,
      raw: raw.perSecond,
      ratio: warren.perSecond / raw.perSecond,
      note: 'raw = get, publish, await confirm, ack, one at a time',
    },
  ];
}
