import { StreamConnection } from '../broker/stream-consumer.ts';
import { urlsForVhost } from '../broker/vhost.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import type { PartitionState } from './assignment.ts';
import { GroupStore, type GroupKey } from './group-store.ts';
import { endOffset, firstOffset, offsetAtTime } from './positions.ts';
import { committedBefore, type ResetTarget } from './reset-target.ts';
import type { StreamPlan } from './stream-plan.ts';

/**
 * `warren stream status` and `warren stream reset`: read a group's rows and
 * the partitions' positions; move a group's committed offsets (each move
 * bumps the partition's generation, so a live owner's next commit is fenced
 * and it re-reads from the new position on its next rebalance).
 */

export interface AdminContext {
  plan: TopologyPlan;
  amqpUrls: string[];
  databaseUrl: string;
  tablePrefix?: string;
}

export interface PartitionStatus {
  partition: number;
  owner: string | null;
  generation: number;
  /** Offset of the last record the group applied; null = never; -1 = reset to before everything. */
  committed: number | null;
  /** Offset of the partition's last record, undefined when it is empty. */
  end: number | undefined;
  /** end − committed (an upper bound in records: offsets are not dense); null before the group's first commit. */
  lag: number | null;
}

export interface ResetRow {
  partition: number;
  committed: number | null;
  newCommitted: number;
  /** The offset the group reads from next, or 'first' / 'new records only'. */
  restartAt: number | 'first' | 'new records only';
  /** For a time target: when the first re-read record was published. */
  firstTimestamp?: string;
}

export function findStream(plan: TopologyPlan, name: string | undefined): StreamPlan {
  const streams = plan.streams ?? [];
  if (name === undefined) {
    if (streams.length === 1 && streams[0] !== undefined) return streams[0];
    throw new Error(streams.length === 0 ? 'the topology declares no streams' : `name the stream (--stream): ${streams.map((s) => s.name).join(', ')}`);
  }
  const found = streams.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no stream "${name}" in the topology (streams: ${streams.map((s) => s.name).join(', ') || 'none'})`);
  return found;
}

async function withBoth<T>(context: AdminContext, run: (store: GroupStore, connection: StreamConnection) => Promise<T>): Promise<T> {
  const store = new GroupStore({ url: context.databaseUrl, ...(context.tablePrefix !== undefined && { tablePrefix: context.tablePrefix }) });
  try {
    const connection = await StreamConnection.open(urlsForVhost(context.plan, context.amqpUrls), 'warren-stream-admin');
    try {
      return await run(store, connection);
    } finally {
      await connection.close();
    }
  } finally {
    await store.close();
  }
}

export function lagOf(end: number | undefined, committed: number | null): number | null {
  if (committed === null) return null;
  if (end === undefined) return 0;
  return Math.max(0, end - committed);
}

export async function groupStatus(context: AdminContext, stream: StreamPlan, group: string): Promise<PartitionStatus[]> {
  return withBoth(context, async (store, connection) => {
    const key: GroupKey = { stream: stream.name, group };
    const rows = await store.partitions(key);
    const ends = await Promise.all(stream.queues.map((queue) => endOffset(connection, queue)));
    return partitionStatuses(stream, rows, ends);
  });
}

/** Pure: a group's rows and the partitions' end offsets → one status per partition of the stream. */
export function partitionStatuses(stream: Pick<StreamPlan, 'queues'>, rows: readonly PartitionState[], ends: ReadonlyArray<number | undefined>): PartitionStatus[] {
  return stream.queues.map((_queue, partition) => {
    const row = rows.find((r) => r.partition === partition);
    const committed = row?.committed ?? null;
    return { partition, owner: row?.owner ?? null, generation: row?.generation ?? 0, committed, end: ends[partition], lag: lagOf(ends[partition], committed) };
  });
}

export interface StreamOverview {
  stream: string;
  partitions: number;
  /** End offset per partition (undefined = empty). */
  ends: Array<number | null>;
  /** First retained offset per partition (null = empty); only when asked for (`firstOffsets`). */
  firsts?: Array<number | null>;
  /** Null when no DATABASE_URL is configured (groups live in PostgreSQL). */
  groups: Array<GroupOverview> | null;
}

export interface GroupOverview {
  group: string;
  members: number;
  /** Sum of the partitions' lag; null while a partition has no commit yet. */
  lag: number | null;
  partitions: PartitionStatus[];
  /** Each live member's heartbeat age by the database's clock; only when asked for (`heartbeats`). */
  heartbeats?: Array<{ member: string; ageMs: number }>;
}

export interface OverviewOptions {
  /** Also read each partition's first retained offset (one more subscription per partition). */
  firstOffsets?: boolean;
  /** Also list each group's members with their heartbeat age. */
  heartbeats?: boolean;
}

/**
 * Every stream of the plan: partition end offsets, and each group's owners,
 * offsets and lag. Every partition of every stream is read at once (each
 * read is a subscription that waits for the broker to go quiet).
 */
export async function streamsOverview(
  context: Omit<AdminContext, 'databaseUrl'> & { databaseUrl: string | undefined },
  options: OverviewOptions = {},
): Promise<StreamOverview[]> {
  const streams = context.plan.streams ?? [];
  const connection = await StreamConnection.open(urlsForVhost(context.plan, context.amqpUrls), 'warren-stream-overview');
  const store =
    context.databaseUrl === undefined
      ? undefined
      : new GroupStore({ url: context.databaseUrl, poolSize: 2, ...(context.tablePrefix !== undefined && { tablePrefix: context.tablePrefix }) });
  try {
    const readAll = (read: (queue: string) => Promise<number | undefined>) => Promise.all(streams.map((stream) => Promise.all(stream.queues.map(read))));
    const [ends, firsts, groups] = await Promise.all([
      readAll((queue) => endOffset(connection, queue)),
      options.firstOffsets === true ? readAll((queue) => firstOffset(connection, queue)) : undefined,
      Promise.all(streams.map(async (stream) => (store === undefined ? undefined : readGroups(store, stream)))),
    ]);
    return streams.map((stream, index) => {
      const streamEnds = ends[index] ?? [];
      const rows = groups[index];
      const streamFirsts = firsts?.[index];
      return {
        stream: stream.name,
        partitions: stream.partitions,
        ends: streamEnds.map((e) => e ?? null),
        ...(streamFirsts !== undefined && { firsts: streamFirsts.map((f) => f ?? null) }),
        groups: rows === undefined ? null : rows.map((group) => groupOverview(stream, group, streamEnds, options.heartbeats === true)),
      };
    });
  } finally {
    await connection.close();
    await store?.close();
  }
}

interface GroupRows {
  group: string;
  rows: PartitionState[];
  members: Array<{ member: string; heartbeatAgeMs: number }>;
}

async function readGroups(store: GroupStore, stream: StreamPlan): Promise<GroupRows[]> {
  const found: GroupRows[] = [];
  for (const group of await store.groups(stream.name)) {
    const key: GroupKey = { stream: stream.name, group };
    found.push({ group, rows: await store.partitions(key), members: await store.liveMembers(key) });
  }
  return found;
}

function groupOverview(stream: StreamPlan, group: GroupRows, ends: ReadonlyArray<number | undefined>, heartbeats: boolean): GroupOverview {
  const partitions = partitionStatuses(stream, group.rows, ends);
  const lags = partitions.map((p) => p.lag);
  const lag = lags.some((l) => l === null) ? null : lags.reduce<number>((sum, l) => sum + (l ?? 0), 0);
  return {
    group: group.group,
    members: group.members.length,
    lag,
    partitions,
    ...(heartbeats && { heartbeats: group.members.map((m) => ({ member: m.member, ageMs: m.heartbeatAgeMs })) }),
  };
}

export async function resetGroup(
  context: AdminContext,
  stream: StreamPlan,
  group: string,
  target: ResetTarget,
  options: { partition?: number; dryRun: boolean },
): Promise<ResetRow[]> {
  if (options.partition !== undefined && (options.partition < 0 || options.partition >= stream.partitions)) {
    throw new Error(`stream ${stream.name} has partitions 0 to ${stream.partitions - 1}`);
  }
  return withBoth(context, async (store, connection) => {
    const key: GroupKey = { stream: stream.name, group };
    await store.ensureGroup(key, stream.partitions);
    const current = await store.partitions(key);
    const partitions = options.partition !== undefined ? [options.partition] : stream.queues.map((_q, i) => i);
    const rows: ResetRow[] = [];
    for (const partition of partitions) {
      const queue = stream.queues[partition] ?? '';
      const committed = current.find((r) => r.partition === partition)?.committed ?? null;
      const row = await resetRow(connection, queue, target);
      rows.push({ partition, committed, ...row });
    }
    if (!options.dryRun) for (const row of rows) await store.setCommitted(key, row.partition, row.newCommitted);
    return rows;
  });
}

async function resetRow(connection: StreamConnection, queue: string, target: ResetTarget): Promise<Omit<ResetRow, 'partition' | 'committed'>> {
  const atEnd = async (): Promise<Omit<ResetRow, 'partition' | 'committed'>> => {
    const end = await endOffset(connection, queue);
    return end === undefined ? { newCommitted: -1, restartAt: 'first' } : { newCommitted: end, restartAt: 'new records only' };
  };
  switch (target.kind) {
    case 'first':
      return { newCommitted: -1, restartAt: 'first' };
    case 'last':
      return atEnd();
    case 'offset':
      return { newCommitted: committedBefore(target.offset), restartAt: target.offset };
    case 'time': {
      const found = await offsetAtTime(connection, queue, target.at);
      if (found === undefined) return atEnd();
      return {
        newCommitted: committedBefore(found.offset),
        restartAt: found.offset,
        ...(found.timestamp !== undefined && { firstTimestamp: found.timestamp.toISOString() }),
      };
    }
  }
}
