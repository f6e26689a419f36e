import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** The libraries measured beside warren in the same run (bench/peers/), one column each. */
export const PEERS = ['rascal', 'bullmq'] as const;
export type Peer = (typeof PEERS)[number];
export const PEER_LABELS: Record<Peer, string> = { rascal: 'Rascal', bullmq: 'BullMQ' };

/** One line of the benchmark table: a warren figure next to raw amqplib's, and the peers' where they do the same work. */
export interface BenchRow {
  group: string;
  name: string;
  unit: string;
  warren: number;
  raw: number;
  /** warren / raw for throughputs; raw / warren for latencies (higher is better either way). */
  ratio: number;
  /** Latencies and memory: lower figures are better, so ratios are raw / figure. */
  lowerIsBetter?: boolean;
  /** The target as a ratio, when the issue sets one. */
  target?: number;
  /** The peers' figures for the same work, in `unit`; a peer absent here has no equivalent (NaN: its run failed). */
  peers?: Partial<Record<Peer, number>>;
  note?: string;
}

export function throughputRow(group: string, name: string, warren: number, raw: number, target?: number, peers?: BenchRow['peers']): BenchRow {
  return { group, name, unit: 'msg/s', warren, raw, ratio: warren / raw, ...(target !== undefined && { target }), ...(peers !== undefined && { peers }) };
}

export function latencyRow(group: string, name: string, warren: number, raw: number, target?: number): BenchRow {
  return { group, name, unit: 'ms', warren, raw, ratio: raw / warren, lowerIsBetter: true, ...(target !== undefined && { target }) };
}

/** A figure of the row as a ratio to raw amqplib's, oriented like `ratio` (higher is better). */
export function ratioToRaw(row: Pick<BenchRow, 'raw' | 'lowerIsBetter'>, figure: number): number {
  return row.lowerIsBetter ? row.raw / figure : figure / row.raw;
}

/** Where warren stands against the best peer measured in the row; undefined when no peer has a figure. */
export interface PeerStanding {
  /** True when warren beats every peer with a figure in the row. */
  ahead: boolean;
  /** The best of the peers. */
  best: Peer;
  /** warren against that peer (warren/peer for rates, peer/warren for latencies): above 1 is ahead. */
  factor: number;
}

export function peerStanding(row: Pick<BenchRow, 'warren' | 'lowerIsBetter' | 'peers'>): PeerStanding | undefined {
  let standing: PeerStanding | undefined;
  for (const peer of PEERS) {
    const figure = row.peers?.[peer];
    if (figure === undefined || !Number.isFinite(figure) || figure <= 0) continue;
    const factor = row.lowerIsBetter ? figure / row.warren : row.warren / figure;
    if (standing === undefined || factor < standing.factor) standing = { ahead: factor > 1, best: peer, factor };
  }
  return standing;
}

/** The peers whose run failed in some row (a NaN figure), for the run's failure list. */
export function failedPeers(rows: readonly BenchRow[]): string[] {
  return rows.flatMap((row) => PEERS.filter((peer) => Number.isNaN(row.peers?.[peer])).map((peer) => `${PEER_LABELS[peer]}: ${row.group}, ${row.name}`));
}

/** A peer's cell: its figure and, in brackets, its ratio to raw; "—" where it has no equivalent. */
export function peerCell(row: BenchRow, peer: Peer): string {
  const figure = row.peers?.[peer];
  if (figure === undefined) return '—';
  if (!Number.isFinite(figure)) return 'failed';
  return `${fmt(figure)} (${ratioToRaw(row, figure).toFixed(2)})`;
}

function standingCell(row: BenchRow): string {
  const standing = peerStanding(row);
  if (standing === undefined) return '—';
  return standing.ahead ? `ahead x${standing.factor.toFixed(2)}` : `behind ${PEER_LABELS[standing.best]} x${standing.factor.toFixed(2)}`;
}

export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['group', 'measure', 'unit', 'warren', 'raw amqplib', 'ratio', 'target', ...PEERS.map((p) => PEER_LABELS[p]), 'vs peers', ''];
  const lines = rows.map((r) => [
    r.group,
    r.name,
    r.unit,
    fmt(r.warren),
    fmt(r.raw),
    r.ratio.toFixed(2),
    r.target === undefined ? '' : `>= ${r.target.toFixed(2)}`,
    ...PEERS.map((peer) => peerCell(r, peer)),
    standingCell(r),
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
