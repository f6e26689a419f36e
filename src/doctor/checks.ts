import { formatDuration } from '../duration.ts';
import { REQUIRED_PLUGINS } from '../broker/private-node.ts';
import type { BrokerFacts, DriftFacts, NodeFacts, QueueFacts } from './facts.ts';

/**
 * Pure checks: broker facts in, findings out. A `problem` will bite (lost
 * messages, a closed channel, blocked publishers) and makes doctor exit
 * non-zero; a `warning` deserves a look; `info` is context.
 */

export type Severity = 'problem' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  /** Stable id for scripts: `versions`, `plugins`, `quorum-dead-letter`, `consumer-timeout`, `alarms`, `drift`, … */
  check: string;
  message: string;
}

/** RabbitMQ's `consumer_timeout` default since 3.8.15. */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 1_800_000;
/** RabbitMQ 4 gives every quorum queue a delivery limit of 20 unless told otherwise. */
export const RABBITMQ_4_DEFAULT_DELIVERY_LIMIT = 20;

export function runChecks(facts: BrokerFacts): Finding[] {
  return [
    ...checkVersions(facts),
    ...facts.nodes.flatMap(checkNodeRunning),
    ...facts.nodes.flatMap(checkPlugins),
    ...facts.nodes.flatMap(checkAlarms),
    ...checkQuorumDeadLetter(facts.queues, facts.rabbitmqVersion),
    ...checkConsumerTimeout(facts),
    ...checkDrift(facts.drift),
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

export function checkPlugins(node: NodeFacts): Finding[] {
  if (!node.running) return [];
  if (node.enabledPlugins === undefined) {
    return [{ severity: 'warning', check: 'plugins', message: `node ${node.name} did not list its plugins (statistics not collected yet)` }];
  }
  const missing = REQUIRED_PLUGINS.filter((plugin) => !node.enabledPlugins?.includes(plugin));
  if (missing.length === 0) return [];
  return [
    {
      severity: 'problem',
      check: 'plugins',
      message: `node ${node.name} lacks ${missing.join(', ')}: run \`rabbitmq-plugins enable ${missing.join(' ')}\`${
        missing.includes('rabbitmq_consistent_hash_exchange') ? ' (sharded, ordered consumers need the x-consistent-hash exchange)' : ''
      }`,
    },
  ];
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
