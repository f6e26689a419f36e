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

const HTTP_BATCH_TARGET = 0.7;

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
    { group: 'http', name: 'enqueue single vs bare express+confirm', unit: 'req/s', warren: single.jobsPerSecond, raw: bare.jobsPerSecond, ratio: single.jobsPerSecond / bare.jobsPerSecond, note: `bare: ${detail(bare)}` },
    {
      group: 'http',
      name: batch.name.replace('warren POST /v1/jobs/{type}/batch', 'enqueue batch'),
      unit: 'jobs/s',
      warren: batch.jobsPerSecond,
      raw: raw.jobsPerSecond,
      ratio: batch.jobsPerSecond / raw.jobsPerSecond,
      target: HTTP_BATCH_TARGET,
      note: `${Math.round(batch.requestsPerSecond ?? 0)} req/s, ${detail(batch)}`,
    },
    {
      group: 'http',
      name: 'enqueue batch vs raw with warren headers',
      unit: 'jobs/s',
      warren: batch.jobsPerSecond,
      raw: conventions.jobsPerSecond,
      ratio: batch.jobsPerSecond / conventions.jobsPerSecond,
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
