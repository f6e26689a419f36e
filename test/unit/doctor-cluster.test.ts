import { describe, expect, it } from 'vitest';
import {
  checkClassicOnCluster,
  checkCluster,
  checkLeaderSpread,
  checkPartitions,
  checkQuorumMembers,
  hasProblems,
  runChecks,
} from '../../src/doctor/checks.ts';
import type { BrokerFacts, NodeFacts, QueueFacts } from '../../src/doctor/facts.ts';

/** doctor on a cluster: node count, partitions, quorum membership, leader spread, classic queues. */

const A = 'rabbit@a';
const B = 'rabbit@b';
const C = 'rabbit@c';

function node(name: string, overrides: Partial<NodeFacts> = {}): NodeFacts {
  return {
    name,
    running: true,
    memoryAlarm: false,
    diskAlarm: false,
    enabledPlugins: ['rabbitmq_consistent_hash_exchange', 'rabbitmq_management'],
    pluginVersions: {},
    consumerTimeoutMs: 1_800_000,
    partitions: [],
    ...overrides,
  };
}

function quorum(name: string, leader: string | undefined, members = [A, B, C], online = members): QueueFacts {
  return { name, type: 'quorum', arguments: {}, policy: {}, leader, members, online, exclusive: false };
}

function classic(name: string, home: string, overrides: Partial<QueueFacts> = {}): QueueFacts {
  return { name, type: 'classic', arguments: {}, policy: {}, leader: home, members: undefined, online: undefined, exclusive: false, ...overrides };
}

const three = [node(A), node(B), node(C)];

function facts(overrides: Partial<BrokerFacts>): BrokerFacts {
  return {
    rabbitmqVersion: '3.10.8',
    erlangVersion: '25.2',
    clusterName: A,
    vhost: '/',
    nodes: three,
    queues: [],
    workerTimeout: { ms: 30_000, source: 'test' },
    drift: undefined,
    ...overrides,
  };
}

describe('doctor on a cluster', () => {
  it('reports the node count and which nodes are down', () => {
    expect(checkCluster([node(A)])).toEqual([]);
    const [finding] = checkCluster([node(A), node(B, { running: false }), node(C)]);
    expect(finding).toMatchObject({ severity: 'info', check: 'cluster' });
    expect(finding?.message).toContain('cluster of 3 nodes, 2 running');
    expect(finding?.message).toContain(`${B} (down)`);
  });

  it('calls a network partition a problem, naming both sides', () => {
    expect(checkPartitions(three)).toEqual([]);
    const findings = checkPartitions([node(A, { partitions: [C] }), node(B, { partitions: [C] }), node(C, { partitions: [A, B] })]);
    expect(findings).toHaveLength(3);
    expect(findings.every((f) => f.severity === 'problem' && f.check === 'partitions')).toBe(true);
    expect(findings[2]?.message).toContain(`${C} is partitioned from ${A}, ${B}`);
  });

  it('warns about a quorum queue with fewer than 3 members on a 3-node cluster, not on a smaller one', () => {
    const two = quorum('loyalty', A, [A, B]);
    const [finding] = checkQuorumMembers([two, quorum('payments', B)], 3);
    expect(finding).toMatchObject({ severity: 'warning', check: 'quorum-members' });
    expect(finding?.message).toContain('quorum queue loyalty has 2 member(s)');
    expect(checkQuorumMembers([two], 2)).toEqual([]);
    expect(checkQuorumMembers([quorum('single', A, [A])], 3)[0]?.message).toContain('losing its node stops it');
  });

  it('calls a quorum queue without a majority online a problem', () => {
    expect(checkQuorumMembers([quorum('ok', A, [A, B, C], [A, B])], 3)).toEqual([]);
    const [finding] = checkQuorumMembers([quorum('stuck', undefined, [A, B, C], [A])], 3);
    expect(finding).toMatchObject({ severity: 'problem', check: 'quorum-members' });
    expect(finding?.message).toContain('1 of its 3 members online');
  });

  it('warns when every queue is led from one node', () => {
    const piled = [quorum('q1', A), quorum('q2', A), classic('c1', A)];
    const [finding] = checkLeaderSpread(piled, three);
    expect(finding).toMatchObject({ severity: 'warning', check: 'leaders' });
    expect(finding?.message).toContain(`all 3 queues are led from one node, ${A}`);
    expect(checkLeaderSpread([quorum('q1', A), quorum('q2', B)], three)).toEqual([]);
    // One queue, or one running node, is no pile-up.
    expect(checkLeaderSpread([quorum('q1', A)], three)).toEqual([]);
    expect(checkLeaderSpread(piled, [node(A), node(B, { running: false })])).toEqual([]);
  });

  it('warns about classic queues on a multi-node cluster only (exclusive and mirrored ones aside)', () => {
    const queues = [classic('inventory', A), classic('reply', B, { exclusive: true }), classic('mirrored', C, { policy: { 'ha-mode': 'all' } }), quorum('loyalty', B)];
    const findings = checkClassicOnCluster(queues, three);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'warning', check: 'classic-on-cluster' });
    expect(findings[0]?.message).toContain(`1 classic queue(s) on a 3-node cluster (e.g. inventory on ${A})`);
    expect(checkClassicOnCluster(queues, [node(A)])).toEqual([]);
    expect(checkClassicOnCluster([quorum('loyalty', B)], three)).toEqual([]);
  });

  it('calls a classic queue whose node is down a problem', () => {
    const findings = checkClassicOnCluster([classic('inventory', A), classic('warehouse', B)], [node(A, { running: false }), node(B), node(C)]);
    expect(findings.map((f) => f.severity)).toEqual(['warning', 'problem']);
    expect(findings[1]?.message).toContain(`1 classic queue(s) are down with their node (e.g. inventory on ${A})`);
  });

  it('runs the cluster checks: a healthy spread quorum cluster has no problem and no cluster warning', () => {
    const healthy = facts({ queues: [quorum('q1', A), quorum('q2', B), quorum('q3', C)] });
    const findings = runChecks(healthy);
    expect(hasProblems(findings)).toBe(false);
    expect(findings.filter((f) => ['quorum-members', 'leaders', 'classic-on-cluster', 'partitions'].includes(f.check))).toEqual([]);
    expect(findings.find((f) => f.check === 'cluster')?.message).toContain('cluster of 3 nodes, 3 running');
  });

  it('runs the cluster checks: a node down and its queues', () => {
    const degraded = facts({
      nodes: [node(A), node(B), node(C, { running: false })],
      queues: [quorum('q1', A, [A, B, C], [A, B]), classic('inventory', C)],
    });
    const findings = runChecks(degraded);
    expect(findings.filter((f) => f.severity === 'problem').map((f) => f.check)).toEqual(['nodes', 'classic-on-cluster']);
  });
});
