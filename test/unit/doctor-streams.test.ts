import { describe, expect, it } from 'vitest';
import { runChecks } from '../../src/doctor/checks.ts';
import type { BrokerFacts, QueueFacts, StreamFacts } from '../../src/doctor/facts.ts';
import { checkGroup, checkStreams } from '../../src/doctor/stream-checks.ts';
import { partitionStatuses, type GroupOverview } from '../../src/streams/group-admin.ts';

const queues = ['ticks.p0', 'ticks.p1'];
const streamQueue = (name: string, type = 'stream'): QueueFacts => ({
  name,
  type,
  arguments: {},
  policy: {},
  leader: 'rabbit@a',
  members: undefined,
  online: undefined,
  exclusive: false,
});

function group(overrides: Partial<GroupOverview> & { committed?: Array<number | null>; owners?: Array<string | null>; ends?: Array<number | undefined> } = {}): GroupOverview {
  const committed = overrides.committed ?? [90, 40];
  const owners = overrides.owners ?? ['m1', 'm2'];
  const rows = committed.map((c, partition) => ({ partition, committed: c, owner: owners[partition] ?? null, generation: 1, updatedAt: null }));
  const partitions = partitionStatuses({ queues }, rows, overrides.ends ?? [99, 49]);
  return {
    group: 'billing',
    members: 2,
    lag: 18,
    partitions,
    heartbeats: overrides.heartbeats ?? [
      { member: 'm1', ageMs: 300 },
      { member: 'm2', ageMs: 800 },
    ],
  };
}

const ids = (findings: ReturnType<typeof checkGroup>) => findings.map((f) => `${f.severity} ${f.check}`);

describe('stream group checks', () => {
  it('reports a healthy group as its lag, per partition worst, as info', () => {
    const findings = checkGroup('ticks', group(), [0, 0]);
    expect(ids(findings)).toEqual(['info stream-lag']);
    expect(findings[0]?.message).toBe('group billing on ticks: lag 18 record(s) (worst: partition 0, 9)');
  });

  it('warns when a partition lags more than the threshold', () => {
    const findings = checkGroup('ticks', group({ committed: [90, 0], ends: [99, 20_000] }), [0, 0], { lagWarnRecords: 10_000 });
    expect(ids(findings)).toEqual(['warning stream-lag']);
    expect(findings[0]?.message).toContain('worst: partition 1, 20000');
    expect(findings[0]?.message).toContain('over the warning threshold of 10000');
  });

  it('names partitions without a live owner and members with a stale heartbeat', () => {
    const findings = checkGroup('ticks', group({ owners: ['m1', null], heartbeats: [{ member: 'm1', ageMs: 25_000 }] }), undefined);
    expect(ids(findings)).toEqual(['warning stream-heartbeat', 'warning stream-owners', 'info stream-lag']);
    expect(findings[0]?.message).toContain('m1 (last heartbeat 25s ago)');
    // m1's heartbeat is stale, so neither partition has a live owner.
    expect(findings[1]?.message).toBe('group billing on ticks: no live member; partition(s) 0, 1 are not consumed');
  });

  it('finds records removed by retention before the group read them, not a reset to first', () => {
    const lost = checkGroup('ticks', group({ committed: [90, 40] }), [95, 41]);
    expect(lost.filter((f) => f.check === 'stream-retention').map((f) => f.message)).toEqual([
      'group billing on ticks, partition 0: committed offset 90 but the first retained record is 95: records 91–94 were removed by retention before the group read them',
    ]);
    expect(lost.some((f) => f.severity === 'problem')).toBe(true);
    const reset = checkGroup('ticks', group({ committed: [-1, 40] }), [95, 41]);
    expect(reset.filter((f) => f.check === 'stream-retention')).toEqual([]);
  });

  it('says a partition has no commit yet instead of a lag', () => {
    const findings = checkGroup('ticks', group({ committed: [null, 40] }), undefined);
    expect(findings[0]?.message).toBe('group billing on ticks: lag 9 record(s) (worst: partition 1, 9); no commit yet on partition(s) 0');
  });
});

describe('stream checks', () => {
  const declared = [{ stream: 'ticks', queues }];
  const overview = (groups: GroupOverview[] | null): StreamFacts => ({ declared, overview: [{ stream: 'ticks', partitions: 2, ends: [99, 49], firsts: [0, 0], groups }] });

  it('finds a missing partition queue and one of the wrong type', () => {
    const findings = checkStreams(overview([]), [streamQueue('ticks.p1', 'quorum')]);
    expect(findings.filter((f) => f.check === 'stream-partitions').map((f) => f.message)).toEqual([
      'stream ticks: partition queue(s) ticks.p0 do not exist: run `warren topology apply`',
      'stream ticks: ticks.p1 is a quorum queue, not a stream queue',
    ]);
  });

  it('says the groups were not checked without DATABASE_URL, as info', () => {
    const findings = checkStreams(overview(null), queues.map((q) => streamQueue(q)));
    expect(findings.map((f) => `${f.severity} ${f.check}`)).toEqual(['info stream-partitions', 'info stream-groups']);
    expect(findings[1]?.message).toContain('DATABASE_URL is not set');
  });

  it('warns when the offsets could not be read, and checks nothing without streams', () => {
    const failed = checkStreams({ declared, overview: undefined, error: 'cannot connect' }, queues.map((q) => streamQueue(q)));
    expect(failed.map((f) => `${f.severity} ${f.check}`)).toEqual(['info stream-partitions', 'warning stream-offsets']);
    expect(checkStreams(undefined, [])).toEqual([]);
  });

  it('runs as part of doctor and a retention loss fails it', () => {
    const facts: BrokerFacts = {
      rabbitmqVersion: '3.13.7',
      erlangVersion: '26.2',
      clusterName: 'rabbit@a',
      vhost: '/',
      nodes: [],
      queues: queues.map((q) => streamQueue(q)),
      workerTimeout: { ms: 30_000, source: 'test' },
      drift: undefined,
      streams: { declared, overview: [{ stream: 'ticks', partitions: 2, ends: [99, 49], firsts: [95, 0], groups: [group()] }] },
    };
    const findings = runChecks(facts).filter((f) => f.check.startsWith('stream-'));
    expect(findings.map((f) => `${f.severity} ${f.check}`)).toEqual(['info stream-partitions', 'info stream-lag', 'problem stream-retention']);
  });
});
