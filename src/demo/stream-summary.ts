import type { GroupCount, RestartPoint } from './stream-verify.ts';

/** Pure: what the stream demo prints at the end. */
export interface StreamSummary {
  stream: string;
  partitions: number;
  sent: number;
  accepted: number;
  created: number;
  cancelled: number;
  /** Seconds from the first publish until every group had committed everything (undefined: never). */
  consumedSeconds: number | undefined;
  groups: ReadonlyArray<GroupCount & { orderHeld: boolean; lag: number | null }>;
  skipped: ReadonlyArray<{ consumer: string; reason: string }>;
  replay:
    | {
        group: string;
        to: string;
        restart: ReadonlyArray<{ partition: number; restartAt: RestartPoint; firstTimestamp?: string }>;
        reapplied: number;
        expected: number;
        /** Events of the second wave: what a reset to the gap between the waves should re-read. */
        secondWave: number;
        secondWaveFrom: string;
        caughtUpSeconds: number | undefined;
        untouched: readonly string[];
      }
    | undefined;
  tablePrefix: string;
  kept: boolean;
  topologyFile: string;
}

export function renderStreamSummary(s: StreamSummary, problems: readonly string[]): string {
  const header = ['GROUP', 'APPLIED', 'DUPLICATES', 'MISSING', 'KEY ORDER', 'LAG'];
  const rows = s.groups.map((g) => [g.group, String(g.applied), String(g.duplicates), String(g.missing), g.orderHeld ? 'held' : 'BROKEN', g.lag === null ? '?' : String(g.lag)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const lines = [
    '',
    `accepted: ${s.accepted} of ${s.sent} events over POST /v1/events (${s.created} order.created, ${s.cancelled} order.cancelled) into ${s.stream} (${s.partitions} partitions)`,
    s.consumedSeconds === undefined ? 'the groups did NOT commit everything before the timeout' : `every group committed everything ${s.consumedSeconds.toFixed(1)} s after the first publish`,
    '',
    line(header),
    ...rows.map(line),
    '',
  ];
  for (const skip of s.skipped) lines.push(`!! ${skip.consumer} did not run: ${skip.reason}`);
  const replay = s.replay;
  if (replay !== undefined) {
    lines.push(`replay: group ${replay.group} reset --to "${replay.to}" (what \`warren stream reset --group ${replay.group} --to "${replay.to}"\` does)`);
    for (const p of replay.restart) {
      const where = typeof p.restartAt === 'number' ? `re-read from offset ${p.restartAt}${p.firstTimestamp ? ` (published ${p.firstTimestamp})` : ''}` : p.restartAt;
      lines.push(`  partition ${p.partition}: ${where}`);
    }
    const caught = replay.caughtUpSeconds === undefined ? 'did NOT catch up before the timeout' : `caught up in ${replay.caughtUpSeconds.toFixed(1)} s`;
    lines.push(
      `  re-applied ${replay.reapplied} records (expected ${replay.expected}: every record from each partition's restart point; the second wave, published from ${replay.secondWaveFrom}, had ${replay.secondWave}); ${caught}`,
      `  untouched: ${replay.untouched.length > 0 ? replay.untouched.join(', ') : '(no other group ran)'} (ledger rows and committed offsets unchanged)`,
      '',
    );
  }
  if (problems.length === 0) {
    lines.push('OK: every group applied every accepted event exactly once, in order per order id; the replay re-applied exactly the records after its reset point and nothing else moved.');
  } else {
    lines.push(`FAILED: ${problems.length} check(s):`, ...problems.map((p) => `  - ${p}`));
  }
  if (s.kept) {
    lines.push(
      '',
      'The vhost and the group tables were kept; look at a group with:',
      `  npx warren stream status --group ${replay?.group ?? s.groups[0]?.group ?? '<group>'} --table-prefix ${s.tablePrefix} --topology ${s.topologyFile}   (AMQP_URL: the demo vhost, DATABASE_URL as above)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
