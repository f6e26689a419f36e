import { describe, expect, it } from 'vitest';
import { failedPeers, formatTable, latencyRow, peerCell, peerStanding, ratioToRaw, throughputRow } from '../../bench/lib/table.ts';

describe('bench table: peers beside warren and raw', () => {
  it('gives a peer its ratio to raw the same way as warren (rate: figure/raw, latency: raw/figure)', () => {
    const rate = throughputRow('consume', 'prefetch 10', 800, 1_000, 0.85, { rascal: 900 });
    expect(ratioToRaw(rate, 900)).toBeCloseTo(0.9);
    const latency = latencyRow('latency', 'p99', 40, 20);
    expect(ratioToRaw(latency, 80)).toBeCloseTo(0.25);
  });

  it('says warren is ahead only when it beats every peer with a figure, against the best one', () => {
    const behind = throughputRow('consume', 'p100', 800, 1_000, undefined, { rascal: 900, bullmq: 600 });
    expect(peerStanding(behind)).toEqual({ ahead: false, best: 'rascal', factor: 800 / 900 });
    const ahead = throughputRow('consume', 'p100', 950, 1_000, undefined, { rascal: 900, bullmq: 600 });
    expect(peerStanding(ahead)).toMatchObject({ ahead: true, best: 'rascal' });
    // A tie is not ahead.
    expect(peerStanding(throughputRow('c', 'n', 900, 1_000, undefined, { rascal: 900 }))?.ahead).toBe(false);
  });

  it('reads lower-is-better rows the other way round', () => {
    const row = { ...latencyRow('latency', 'p99', 30, 20), peers: { rascal: 45, bullmq: 25 } };
    expect(peerStanding(row)).toEqual({ ahead: false, best: 'bullmq', factor: 25 / 30 });
  });

  it('ignores peers without an equivalent or whose run failed when ranking', () => {
    expect(peerStanding(throughputRow('c', 'n', 1, 1))).toBeUndefined();
    expect(peerStanding(throughputRow('c', 'n', 500, 1_000, undefined, { rascal: Number.NaN, bullmq: 400 }))).toMatchObject({ best: 'bullmq', ahead: true });
  });

  it('shows "—" where a peer has no equivalent, "failed" where it failed, and lists the failures', () => {
    const rows = [
      throughputRow('publish', 'classic', 9_000, 10_000, 0.9, { bullmq: 8_000 }),
      throughputRow('consume', 'prefetch 1', 900, 1_000, 0.85, { rascal: Number.NaN, bullmq: 1_200 }),
      latencyRow('latency', 'p99', 40, 20),
    ];
    expect(peerCell(rows[0]!, 'rascal')).toBe('—');
    expect(peerCell(rows[0]!, 'bullmq')).toBe('8,000 (0.80)');
    expect(peerCell(rows[1]!, 'rascal')).toBe('failed');
    expect(failedPeers(rows)).toEqual(['Rascal: consume, prefetch 1']);
  });

  it('puts a column for each peer and the standing in every line of one table', () => {
    const table = formatTable([
      throughputRow('consume', 'prefetch 100', 950, 1_000, 0.85, { rascal: 900, bullmq: 600 }),
      throughputRow('consume', 'prefetch 1', 700, 1_000, 0.85, { rascal: 900, bullmq: 1_200 }),
      latencyRow('latency', 'p99', 40, 20, 1 / 3),
    ]);
    const [header, , ahead, behind, none] = table.split('\n').map((line) => line.split('|').map((cell) => cell.trim()));
    expect(header).toEqual(['', 'group', 'measure', 'unit', 'warren', 'raw amqplib', 'ratio', 'target', 'Rascal', 'BullMQ', 'vs peers', '', '']);
    expect(ahead?.slice(8, 12)).toEqual(['900 (0.90)', '600 (0.60)', 'ahead x1.06', 'ok']);
    expect(behind?.slice(8, 12)).toEqual(['900 (0.90)', '1,200 (1.20)', 'behind BullMQ x0.58', 'MISSED']);
    expect(none?.slice(8, 12)).toEqual(['—', '—', '—', 'ok']);
  });
});
