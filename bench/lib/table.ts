import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** One line of the benchmark table: a warren figure next to raw amqplib's. */
export interface BenchRow {
  group: string;
  name: string;
  unit: string;
  warren: number;
  raw: number;
  /** warren / raw for throughputs; raw / warren for latencies (higher is better either way). */
  ratio: number;
  /** The target as a ratio, when the issue sets one. */
  target?: number;
  note?: string;
}

export function throughputRow(group: string, name: string, warren: number, raw: number, target?: number): BenchRow {
  return { group, name, unit: 'msg/s', warren, raw, ratio: warren / raw, ...(target !== undefined && { target }) };
}

export function latencyRow(group: string, name: string, warren: number, raw: number, target?: number): BenchRow {
  return { group, name, unit: 'ms', warren, raw, ratio: raw / warren, ...(target !== undefined && { target }) };
}

export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['group', 'measure', 'unit', 'warren', 'raw amqplib', 'ratio', 'target', ''];
  const lines = rows.map((r) => [
    r.group,
    r.name,
    r.unit,
    fmt(r.warren),
    fmt(r.raw),
    r.ratio.toFixed(2),
    r.target === undefined ? '' : `>= ${r.target.toFixed(2)}`,
    r.target === undefined ? (r.note ?? '') : `${r.ratio >= r.target ? 'ok' : 'MISSED'}${r.note ? ` ${r.note}` : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [render(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(render)].join('\n');
}

export function machineDescription(brokerVersion?: string): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}${brokerVersion ? `, RabbitMQ ${brokerVersion}` : ''}, broker on the same machine`;
}

export function writeResults(name: string, rows: readonly BenchRow[], extra: Record<string, unknown> = {}): string {
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), machine: machineDescription(), ...extra, rows }, null, 2)}\n`);
  return file;
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}
