import { formatDuration } from '../duration.ts';
import type { GroupOverview } from '../streams/group-admin.ts';
import type { Finding } from './checks.ts';
import type { QueueFacts, StreamFacts } from './facts.ts';

/**
 * Pure checks of the topology's streams: every partition exists as a stream
 * queue; per consumer group, partitions no live member owns, members whose
 * heartbeat is stale, lag against the partitions' ends, and records lost to
 * retention before the group read them.
 */

export interface StreamCheckOptions {
  /** A group whose worst partition lags more records than this gets a warning. @defaultValue 10_000 */
  lagWarnRecords?: number;
  /**
   * A member whose last heartbeat is older than this is stale (the group
   * drops it at the next rebalance and moves its partitions). @defaultValue 10_000
   * (a stream worker's default `sessionTimeoutMs`)
   */
  heartbeatStaleMs?: number;
}

export const STREAM_CHECK_DEFAULTS = { lagWarnRecords: 10_000, heartbeatStaleMs: 10_000 } as const;

export function checkStreams(streams: StreamFacts | undefined, queues: readonly QueueFacts[], options: StreamCheckOptions = {}): Finding[] {
  if (streams === undefined) return [];
  const findings = checkStreamQueues(streams, queues);
  if (streams.overview === undefined) {
    findings.push({ severity: 'warning', check: 'stream-offsets', message: `stream offsets not read: ${streams.error ?? 'unknown error'}` });
    return findings;
  }
  for (const stream of streams.overview) {
    if (stream.groups === null) {
      findings.push({
        severity: 'info',
        check: 'stream-groups',
        message: `stream ${stream.stream}: consumer groups not checked (DATABASE_URL is not set; group offsets live in PostgreSQL)`,
      });
      continue;
    }
    if (stream.groups.length === 0) findings.push({ severity: 'info', check: 'stream-groups', message: `stream ${stream.stream}: no consumer group has joined yet` });
    for (const group of stream.groups) findings.push(...checkGroup(stream.stream, group, stream.firsts, options));
  }
  return findings;
}

/** Each partition of each stream must be a stream queue (a missing one cannot take events; another type is not a log). */
export function checkStreamQueues(streams: StreamFacts, queues: readonly QueueFacts[]): Finding[] {
  const byName = new Map(queues.map((queue) => [queue.name, queue]));
  const findings: Finding[] = [];
  for (const { stream, queues: partitions } of streams.declared) {
    const missing = partitions.filter((name) => byName.get(name) === undefined);
    const wrong = partitions.filter((name) => byName.get(name) !== undefined && byName.get(name)?.type !== 'stream');
    if (missing.length > 0) {
      findings.push({ severity: 'problem', check: 'stream-partitions', message: `stream ${stream}: partition queue(s) ${missing.join(', ')} do not exist: run \`warren topology apply\`` });
    }
    if (wrong.length > 0) {
      findings.push({
        severity: 'problem',
        check: 'stream-partitions',
        message: `stream ${stream}: ${wrong.map((name) => `${name} is a ${byName.get(name)?.type} queue`).join(', ')}, not a stream queue`,
      });
    }
    if (missing.length === 0 && wrong.length === 0) {
      findings.push({ severity: 'info', check: 'stream-partitions', message: `stream ${stream}: ${partitions.length} partition(s), each a stream queue` });
    }
  }
  return findings;
}

export function checkGroup(stream: string, group: GroupOverview, firsts: ReadonlyArray<number | null> | undefined, options: StreamCheckOptions = {}): Finding[] {
  const lagWarn = options.lagWarnRecords ?? STREAM_CHECK_DEFAULTS.lagWarnRecords;
  const staleMs = options.heartbeatStaleMs ?? STREAM_CHECK_DEFAULTS.heartbeatStaleMs;
  const name = `group ${group.group} on ${stream}`;
  const findings: Finding[] = [];
  const heartbeats = group.heartbeats ?? [];
  const fresh = new Set(heartbeats.filter((m) => m.ageMs <= staleMs).map((m) => m.member));
  const stale = heartbeats.filter((m) => m.ageMs > staleMs);
  if (stale.length > 0) {
    findings.push({
      severity: 'warning',
      check: 'stream-heartbeat',
      message: `${name}: member(s) ${stale.map((m) => `${m.member} (last heartbeat ${formatDuration(m.ageMs)} ago)`).join(', ')} silent longer than ${formatDuration(staleMs)}: stopped or stuck; their partitions move at the next rebalance`,
    });
  }
  const unowned = group.partitions.filter((p) => p.owner === null || !fresh.has(p.owner)).map((p) => p.partition);
  if (unowned.length > 0) {
    findings.push({
      severity: 'warning',
      check: 'stream-owners',
      message:
        fresh.size === 0
          ? `${name}: no live member; partition(s) ${unowned.join(', ')} are not consumed`
          : `${name}: partition(s) ${unowned.join(', ')} have no live owner (a rebalance is due or under way)`,
    });
  }
  findings.push(lagFinding(name, group, lagWarn));
  for (const partition of group.partitions) {
    const first = firsts?.[partition.partition];
    // −1 is a reset to the first retained record: what came before was dropped on purpose.
    if (partition.committed === null || partition.committed < 0 || first === undefined || first === null) continue;
    if (partition.committed + 1 < first) {
      findings.push({
        severity: 'problem',
        check: 'stream-retention',
        message: `${name}, partition ${partition.partition}: committed offset ${partition.committed} but the first retained record is ${first}: records ${partition.committed + 1}–${first - 1} were removed by retention before the group read them`,
      });
    }
  }
  return findings;
}

function lagFinding(name: string, group: GroupOverview, lagWarn: number): Finding {
  const waiting = group.partitions.filter((p) => p.lag === null).map((p) => p.partition);
  let worst: { partition: number; lag: number } | undefined;
  let total = 0;
  for (const p of group.partitions) {
    if (p.lag === null) continue;
    total += p.lag;
    if (worst === undefined || p.lag > worst.lag) worst = { partition: p.partition, lag: p.lag };
  }
  const uncommitted = waiting.length > 0 ? `; no commit yet on partition(s) ${waiting.join(', ')}` : '';
  const worstText = worst === undefined ? '' : ` (worst: partition ${worst.partition}, ${worst.lag})`;
  const over = worst !== undefined && worst.lag > lagWarn;
  return {
    severity: over ? 'warning' : 'info',
    check: 'stream-lag',
    message: `${name}: lag ${total} record(s)${worstText}${uncommitted}${over ? `, over the warning threshold of ${lagWarn} per partition` : ''}`,
  };
}
