import { formatDuration } from '../duration.ts';
import { CONSISTENT_HASH_PLUGIN, MANAGEMENT_PLUGIN } from '../topology/plugins.ts';
import type { BrokerFacts, DriftFacts, NodeFacts, QueueFacts } from './facts.ts';
import { checkStreams, type StreamCheckOptions } from './stream-checks.ts';

/**
 * Pure checks: broker facts in, findings out. A `problem` will bite (lost
 * messages, a closed channel, blocked publishers) and makes doctor exit
 * non-zero; a `warning` deserves a look; `info` is context.
 */

export type Severity = 'problem' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  /** Stable id for scripts: `versions`, `plugins`, `quorum-dead-letter`, `consumer-timeout`, `alarms`, `drift`, `stream-lag`, … */
  check: string;
  message: string;
}

/** RabbitMQ's `consumer_timeout` default since 3.8.15. */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 1_800_000;
/** RabbitMQ 4 gives every quorum queue a delivery limit of 20 unless told otherwise. */
export const RABBITMQ_4_DEFAULT_DELIVERY_LIMIT = 20;

export function runChecks(facts: BrokerFacts, streamOptions: StreamCheckOptions = {}): Finding[] {
  return [
    ...checkVersions(facts),
    ...facts.nodes.flatMap(checkNodeRunning),
    ...facts.nodes.flatMap((node) => checkPlugins(node, facts.neededPlugins)),
    ...facts.nodes.flatMap(checkAlarms),
    ...checkCluster(facts.nodes),
    ...checkPartitions(facts.nodes),
    ...checkQuorumMembers(facts.queues, facts.nodes.length),
    ...checkLeaderSpread(facts.queues, facts.nodes),
    ...checkClassicOnCluster(facts.queues, facts.nodes),
    ...checkQuorumDeadLetter(facts.queues, facts.rabbitmqVersion),
    ...checkConsumerTimeout(facts),
    ...checkDrift(facts.drift),
    ...checkStreams(facts.streams, facts.queues, streamOptions),
  ];
}

export function checkVersions(facts: BrokerFacts): Finding[] {
  const plugins = new Map<string, string>();
  for (const node of facts.nodes) for (const [name, version] of Object.entries(node.pluginVersions)) plugins.set(name, version);
  const listed = [...plugins].map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    {
      severity: 'info',
      check: 'versions',
      message: `RabbitMQ ${facts.rabbitmqVersion} on Erlang ${facts.erlangVersion}, cluster ${facts.clusterName} (${facts.nodes.length} node(s))`,
    },
    { severity: 'info', check: 'versions', message: `plugins: ${listed || 'none reported'}` },
  ];
}

export function checkNodeRunning(node: NodeFacts): Finding[] {
  return node.running ? [] : [{ severity: 'problem', check: 'nodes', message: `node ${node.name} is not running` }];
}

/**
 * `needed`: the topology's plugins (`pluginsNeededBy`). Without a topology
 * only the management plugin is demanded; a missing consistent-hash plugin
 * is then context, since only an x-consistent-hash exchange of the file
 * needs it (sharded consumers do not).
 */
export function checkPlugins(node: NodeFacts, needed: readonly string[] | undefined): Finding[] {
  if (!node.running) return [];
  if (node.enabledPlugins === undefined) {
    return [{ severity: 'warning', check: 'plugins', message: `node ${node.name} did not list its plugins (statistics not collected yet)` }];
  }
  const missing = (needed ?? [MANAGEMENT_PLUGIN]).filter((plugin) => !node.enabledPlugins?.includes(plugin));
  const findings: Finding[] = [];
  if (missing.length > 0) {
    findings.push({
      severity: 'problem',
      check: 'plugins',
      message: `node ${node.name} lacks ${missing.join(', ')}: run \`rabbitmq-plugins enable ${missing.join(' ')}\`${
        missing.includes(CONSISTENT_HASH_PLUGIN) ? ' (the topology declares an x-consistent-hash exchange)' : ''
      }`,
    });
  }
  if (needed === undefined && !node.enabledPlugins.includes(CONSISTENT_HASH_PLUGIN)) {
    findings.push({
      severity: 'info',
      check: 'plugins',
      message: `node ${node.name} lacks ${CONSISTENT_HASH_PLUGIN}: needed only by an x-consistent-hash exchange a topology declares (pass --topology to check)`,
    });
  }
  return findings;
}

export function checkAlarms(node: NodeFacts): Finding[] {
  const raised = [node.memoryAlarm && 'memory', node.diskAlarm && 'disk'].filter((alarm): alarm is string => Boolean(alarm));
  if (raised.length === 0) return [];
  return [
    {
      severity: 'problem',
      check: 'alarms',
      message: `node ${node.name} has a ${raised.join(' and ')} alarm: publishers are blocked (the producer answers 503) until it clears`,
    },
  ];
}

/** A quorum queue with fewer members than this cannot lose a node and keep a majority. */
export const SAFE_QUORUM_MEMBERS = 3;

export function checkCluster(nodes: readonly NodeFacts[]): Finding[] {
  if (nodes.length <= 1) return [];
  const running = nodes.filter((n) => n.running).length;
  return [
    {
      severity: 'info',
      check: 'cluster',
      message: `cluster of ${nodes.length} nodes, ${running} running: ${nodes.map((n) => `${n.name}${n.running ? '' : ' (down)'}`).join(', ')}`,
    },
  ];
}

export function checkPartitions(nodes: readonly NodeFacts[]): Finding[] {
  return nodes
    .filter((node) => node.partitions.length > 0)
    .map((node) => ({
      severity: 'problem' as const,
      check: 'partitions',
      message:
        `node ${node.name} is partitioned from ${node.partitions.join(', ')}: each side may go on alone, and what one side confirms the other may not have; ` +
        'restore the network, then restart the nodes of the side to drop (see RabbitMQ "Clustering and Network Partitions")',
    }));
}

/**
 * On a cluster of 3+ nodes, a quorum queue should have 3+ members: with 2 it
 * stops when either node goes (no majority), with 1 it is a classic queue
 * in all but name. Fewer members online than a majority is a queue that
 * cannot take or give a message right now.
 */
export function checkQuorumMembers(queues: readonly QueueFacts[], nodeCount: number): Finding[] {
  const findings: Finding[] = [];
  for (const queue of queues.filter((q) => q.type === 'quorum' && q.members !== undefined)) {
    const members = queue.members ?? [];
    const online = queue.online ?? members;
    if (members.length > 0 && online.length <= members.length / 2) {
      findings.push({
        severity: 'problem',
        check: 'quorum-members',
        message: `quorum queue ${queue.name} has ${online.length} of its ${members.length} members online, not a majority: it has no leader, so publishes to it are not confirmed and its consumers get nothing`,
      });
    }
    if (nodeCount >= SAFE_QUORUM_MEMBERS && members.length < SAFE_QUORUM_MEMBERS) {
      findings.push({
        severity: 'warning',
        check: 'quorum-members',
        message:
          `quorum queue ${queue.name} has ${members.length} member(s) (${members.join(', ') || 'none'}) on a cluster of ${nodeCount} nodes: ` +
          `losing ${members.length === 1 ? 'its node stops it' : 'one of them leaves no majority and stops it'}; ` +
          `add members with \`rabbitmq-queues grow <node> all\` (or declare it again with x-quorum-initial-group-size ${SAFE_QUORUM_MEMBERS})`,
      });
    }
  }
  return findings;
}

/**
 * Every queue led from one node: that node does all the queue work, and
 * losing it moves (quorum) or stops (classic) every queue at once.
 */
export function checkLeaderSpread(queues: readonly QueueFacts[], nodes: readonly NodeFacts[]): Finding[] {
  if (nodes.filter((n) => n.running).length < 2) return [];
  const led = queues.filter((q) => q.leader !== undefined && !q.exclusive);
  const leaders = new Set(led.map((q) => q.leader));
  if (led.length < 2 || leaders.size !== 1) return [];
  return [
    {
      severity: 'warning',
      check: 'leaders',
      message:
        `all ${led.length} queues are led from one node, ${[...leaders][0]}: it does all the queue work and its loss hits every queue at once; ` +
        'declare queues with x-queue-leader-locator: balanced (warren topology files do) and run `rabbitmq-queues rebalance quorum`',
    },
  ];
}

/**
 * A classic queue lives on one node. On a cluster, while that node is down
 * the queue is gone, and RabbitMQ still confirms a publish that another
 * queue took: a 202 then no longer means every consumer got the job.
 */
export function checkClassicOnCluster(queues: readonly QueueFacts[], nodes: readonly NodeFacts[]): Finding[] {
  if (nodes.length < 2) return [];
  const classic = queues.filter((q) => q.type === 'classic' && !q.exclusive && q.policy['ha-mode'] === undefined);
  if (classic.length === 0) return [];
  const sample = (list: readonly QueueFacts[]) =>
    list
      .slice(0, 3)
      .map((q) => `${q.name}${q.leader ? ` on ${q.leader}` : ''}`)
      .join(', ');
  const findings: Finding[] = [
    {
      severity: 'warning',
      check: 'classic-on-cluster',
      message:
        `${classic.length} classic queue(s) on a ${nodes.length}-node cluster (e.g. ${sample(classic)}): each lives on one node, and while that node is down ` +
        'a publish routed to it is dropped for that queue yet still confirmed (a 202 does not hold); declare them quorum (see the README, migrating a queue type)',
    },
  ];
  const down = new Set(nodes.filter((n) => !n.running).map((n) => n.name));
  const lost = classic.filter((q) => q.leader !== undefined && down.has(q.leader));
  if (lost.length > 0) {
    findings.push({
      severity: 'problem',
      check: 'classic-on-cluster',
      message: `${lost.length} classic queue(s) are down with their node (e.g. ${sample(lost)}): right now jobs routed to them are dropped for them while their publish is confirmed`,
    });
  }
  return findings;
}

/** Pure: the delivery limit in force on a queue, `undefined` when unlimited. */
export function deliveryLimitOf(queue: QueueFacts, rabbitmqVersion: string): number | undefined {
  const declared = queue.arguments['x-delivery-limit'] ?? queue.policy['delivery-limit'];
  const limit = typeof declared === 'number' ? declared : majorVersion(rabbitmqVersion) >= 4 ? RABBITMQ_4_DEFAULT_DELIVERY_LIMIT : undefined;
  // RabbitMQ 4 takes -1 to mean unlimited.
  return limit !== undefined && limit >= 0 ? limit : undefined;
}

export function checkQuorumDeadLetter(queues: QueueFacts[], rabbitmqVersion: string): Finding[] {
  return queues
    .filter((queue) => queue.type === 'quorum')
    .flatMap((queue): Finding[] => {
      const limit = deliveryLimitOf(queue, rabbitmqVersion);
      const target = queue.arguments['x-dead-letter-exchange'] ?? queue.policy['dead-letter-exchange'];
      if (limit === undefined || target !== undefined) return [];
      return [
        {
          severity: 'problem',
          check: 'quorum-dead-letter',
          message:
            `quorum queue ${queue.name} drops a message after ${limit} deliveries (delivery-limit) and has no dead-letter target: ` +
            'set x-dead-letter-exchange (warren topology files add one for you) or a dead-letter-exchange policy',
        },
      ];
    });
}

export function checkConsumerTimeout(facts: BrokerFacts): Finding[] {
  const { ms: workerMs, source } = facts.workerTimeout;
  const findings: Finding[] = [];
  for (const node of facts.nodes.filter((n) => n.running)) {
    const timeout = node.consumerTimeoutMs;
    if (timeout === undefined) {
      const risky = workerMs >= DEFAULT_CONSUMER_TIMEOUT_MS;
      findings.push({
        severity: risky ? 'warning' : 'info',
        check: 'consumer-timeout',
        message:
          `consumer_timeout of node ${node.name} is not readable (the management API does not show it; run doctor where \`rabbitmqctl\` reaches the node); ` +
          `if it is RabbitMQ's default (${formatDuration(DEFAULT_CONSUMER_TIMEOUT_MS)}) the worker timeout ${formatDuration(workerMs)} (${source}) ${risky ? 'does not fit' : 'fits'}`,
      });
    } else if (timeout !== null && timeout <= workerMs) {
      findings.push(tooShort(`consumer_timeout of node ${node.name}`, timeout, workerMs, source));
    } else {
      findings.push({
        severity: 'info',
        check: 'consumer-timeout',
        message: `consumer_timeout of node ${node.name}: ${timeout === null ? 'disabled' : formatDuration(timeout)}, longer than the worker timeout ${formatDuration(workerMs)} (${source})`,
      });
    }
  }
  for (const queue of facts.queues) {
    const own = queue.arguments['x-consumer-timeout'] ?? queue.policy['consumer-timeout'];
    if (typeof own === 'number' && own <= workerMs) findings.push(tooShort(`consumer timeout of queue ${queue.name}`, own, workerMs, source));
  }
  return findings;
}

function tooShort(what: string, timeoutMs: number, workerMs: number, source: string): Finding {
  return {
    severity: 'problem',
    check: 'consumer-timeout',
    message:
      `${what} (${formatDuration(timeoutMs)}) is not longer than the worker timeout ${formatDuration(workerMs)} (${source}): ` +
      'a job that runs that long gets its channel closed (PRECONDITION_FAILED) and is redelivered; raise consumer_timeout or lower timeoutMs',
  };
}

export function checkDrift(drift: DriftFacts | undefined): Finding[] {
  if (drift === undefined) {
    return [{ severity: 'info', check: 'drift', message: 'topology drift: not checked (pass --topology <file>)' }];
  }
  const findings: Finding[] = [
    {
      severity: 'info',
      check: 'drift',
      message: `topology ${drift.file}: ${drift.unchanged} unchanged, ${drift.create.length} to create, ${drift.conflict.length} in conflict`,
    },
  ];
  if (drift.conflict.length > 0) {
    findings.push({
      severity: 'problem',
      check: 'drift',
      message: `the broker differs from ${drift.file} (apply will refuse): ${drift.conflict.join('; ')}; see \`warren topology plan ${drift.file}\``,
    });
  }
  if (drift.create.length > 0) {
    findings.push({
      severity: 'warning',
      check: 'drift',
      message: `${drift.create.length} object(s) of ${drift.file} are not declared yet (e.g. ${drift.create.slice(0, 3).join(', ')}): run \`warren topology apply ${drift.file}\``,
    });
  }
  return findings;
}

function majorVersion(version: string): number {
  return Number.parseInt(version.split('.')[0] ?? '0', 10) || 0;
}

/** True when any finding is a problem: doctor's exit code depends on it. */
export function hasProblems(findings: readonly Finding[]): boolean {
  return findings.some((finding) => finding.severity === 'problem');
}
