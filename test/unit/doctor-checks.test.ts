import { describe, expect, it } from 'vitest';
import { missingPlugins } from '../../src/broker/find-broker.ts';
import { loadTopology } from '../../src/topology/load.ts';
import { pluginsNeededBy } from '../../src/topology/plugins.ts';
import {
  checkAlarms,
  checkConsumerTimeout,
  checkDrift,
  checkPlugins,
  checkQuorumDeadLetter,
  deliveryLimitOf,
  hasProblems,
  runChecks,
} from '../../src/doctor/checks.ts';
import { parseConsumerTimeout } from '../../src/doctor/consumer-timeout.ts';
import type { BrokerFacts, NodeFacts, QueueFacts } from '../../src/doctor/facts.ts';
import { buildReport, formatReport } from '../../src/doctor/report.ts';

const BOTH = ['rabbitmq_consistent_hash_exchange', 'rabbitmq_management'];

function node(overrides: Partial<NodeFacts> = {}): NodeFacts {
  return {
    name: 'rabbit@a',
    running: true,
    memoryAlarm: false,
    diskAlarm: false,
    enabledPlugins: BOTH,
    pluginVersions: { rabbitmq_consistent_hash_exchange: '3.13.7', rabbitmq_management: '3.13.7' },
    consumerTimeoutMs: 1_800_000,
    partitions: [],
    ...overrides,
  };
}

function queue(overrides: Partial<QueueFacts> = {}): QueueFacts {
  return {
    name: 'q',
    type: 'quorum',
    arguments: { 'x-queue-type': 'quorum' },
    policy: {},
    leader: 'rabbit@a',
    members: ['rabbit@a'],
    online: ['rabbit@a'],
    exclusive: false,
    ...overrides,
  };
}

function facts(overrides: Partial<BrokerFacts> = {}): BrokerFacts {
  return {
    rabbitmqVersion: '3.13.7',
    erlangVersion: '26.2',
    clusterName: 'rabbit@a',
    vhost: '/',
    nodes: [node()],
    queues: [],
    workerTimeout: { ms: 30_000, source: 'test' },
    drift: { file: 'orders.yaml', create: [], conflict: [], unchanged: 42 },
    ...overrides,
  };
}

const problems = (findings: ReturnType<typeof runChecks>) => findings.filter((f) => f.severity === 'problem');

describe('doctor checks', () => {
  it('gives a clean bill to a healthy broker, with versions as context', () => {
    const findings = runChecks(facts());
    expect(problems(findings)).toEqual([]);
    expect(hasProblems(findings)).toBe(false);
    expect(findings.map((f) => f.message).join('\n')).toContain('RabbitMQ 3.13.7 on Erlang 26.2');
    expect(findings.map((f) => f.message).join('\n')).toContain('rabbitmq_management 3.13.7');
  });

  it('reports a plugin the topology needs as missing, with the command that enables it', () => {
    const withHashExchange = pluginsNeededBy({ exchanges: [{ name: 'by-key', type: 'x-consistent-hash', durable: true, autoDelete: false, internal: false, arguments: {} }] });
    const [finding] = checkPlugins(node({ enabledPlugins: ['rabbitmq_management'] }), withHashExchange);
    expect(finding?.severity).toBe('problem');
    expect(finding?.message).toContain('rabbitmq-plugins enable rabbitmq_consistent_hash_exchange');
    expect(finding?.message).toContain('the topology declares an x-consistent-hash exchange');
    expect(checkPlugins(node({ enabledPlugins: [] }), ['rabbitmq_management'])).toEqual([expect.objectContaining({ severity: 'problem', message: expect.stringContaining('lacks rabbitmq_management') })]);
    expect(missingPlugins(['rabbitmq_management'])).toEqual([]);
    expect(missingPlugins(['rabbitmq_management'], BOTH)).toEqual(['rabbitmq_consistent_hash_exchange']);
    expect(missingPlugins([], BOTH)).toEqual(BOTH);
    expect(missingPlugins(BOTH)).toEqual([]);
  });

  it('does not demand the consistent-hash plugin for sharded consumers (they route through a headers exchange)', async () => {
    const orders = (await loadTopology('topology/orders.yaml')).plan;
    expect(orders.consumers.some((consumer) => consumer.shards !== undefined)).toBe(true);
    expect(pluginsNeededBy(orders)).toEqual(['rabbitmq_management']);
    expect(checkPlugins(node({ enabledPlugins: ['rabbitmq_management'] }), pluginsNeededBy(orders))).toEqual([]);
    // Without a topology: context, not a problem.
    expect(checkPlugins(node({ enabledPlugins: ['rabbitmq_management'] }), undefined)).toEqual([
      expect.objectContaining({ severity: 'info', message: expect.stringContaining('needed only by an x-consistent-hash exchange') }),
    ]);
    expect(problems(runChecks(facts({ nodes: [node({ enabledPlugins: ['rabbitmq_management'] })], neededPlugins: pluginsNeededBy(orders) })))).toEqual([]);
  });

  it('says so when a node has not listed its plugins yet, without calling it a problem', () => {
    expect(checkPlugins(node({ enabledPlugins: undefined }), undefined)).toEqual([expect.objectContaining({ severity: 'warning' })]);
  });

  it('reports memory and disk alarms', () => {
    expect(checkAlarms(node())).toEqual([]);
    const [finding] = checkAlarms(node({ memoryAlarm: true, diskAlarm: true }));
    expect(finding?.severity).toBe('problem');
    expect(finding?.message).toContain('memory and disk alarm');
  });

  describe('quorum queues and dead-lettering', () => {
    it('reports a delivery limit without a dead-letter target', () => {
      const findings = checkQuorumDeadLetter([queue({ name: 'payments', arguments: { 'x-delivery-limit': 5 } })], '3.13.7');
      expect(findings).toHaveLength(1);
      expect(findings[0]?.message).toContain('payments drops a message after 5 deliveries');
    });

    it("counts RabbitMQ 4's default limit of 20, but not on 3.x where there is none", () => {
      expect(deliveryLimitOf(queue(), '4.1.0')).toBe(20);
      expect(deliveryLimitOf(queue(), '3.13.7')).toBeUndefined();
      expect(deliveryLimitOf(queue({ arguments: { 'x-delivery-limit': -1 } }), '4.1.0')).toBeUndefined();
      expect(checkQuorumDeadLetter([queue()], '4.1.0')).toHaveLength(1);
      expect(checkQuorumDeadLetter([queue()], '3.13.7')).toEqual([]);
    });

    it('accepts a dead-letter target from the arguments or from a policy, and ignores classic queues', () => {
      const limited = { 'x-delivery-limit': 5 };
      expect(checkQuorumDeadLetter([queue({ arguments: { ...limited, 'x-dead-letter-exchange': 'dlx' } })], '3.13.7')).toEqual([]);
      expect(checkQuorumDeadLetter([queue({ arguments: limited, policy: { 'dead-letter-exchange': 'dlx' } })], '3.13.7')).toEqual([]);
      expect(checkQuorumDeadLetter([queue({ policy: { 'delivery-limit': 3 } })], '3.13.7')).toHaveLength(1);
      expect(checkQuorumDeadLetter([queue({ type: 'classic', arguments: limited })], '4.1.0')).toEqual([]);
    });
  });

  describe('consumer_timeout', () => {
    it('reports a node timeout no longer than the longest worker timeout', () => {
      const findings = checkConsumerTimeout(facts({ nodes: [node({ consumerTimeoutMs: 60_000 })], workerTimeout: { ms: 120_000, source: '--worker-timeout' } }));
      expect(problems(findings)).toHaveLength(1);
      expect(findings[0]?.message).toContain('1m');
      expect(findings[0]?.message).toContain('2m');
    });

    it('is fine with a longer or disabled timeout', () => {
      expect(problems(checkConsumerTimeout(facts()))).toEqual([]);
      expect(problems(checkConsumerTimeout(facts({ nodes: [node({ consumerTimeoutMs: null })], workerTimeout: { ms: 86_400_000, source: 't' } })))).toEqual([]);
    });

    it('reports a queue-level timeout (argument or policy) shorter than the worker timeout', () => {
      const queues = [queue({ name: 'slow', type: 'classic', arguments: {}, policy: { 'consumer-timeout': 10_000 } })];
      const findings = problems(checkConsumerTimeout(facts({ queues })));
      expect(findings).toHaveLength(1);
      expect(findings[0]?.message).toContain('queue slow');
    });

    it('says when the timeout cannot be read, and warns only when the default would not fit', () => {
      const unreadable = [node({ consumerTimeoutMs: undefined })];
      const [short] = checkConsumerTimeout(facts({ nodes: unreadable }));
      expect(short).toMatchObject({ severity: 'info' });
      expect(short?.message).toContain('not readable');
      const [long] = checkConsumerTimeout(facts({ nodes: unreadable, workerTimeout: { ms: 3_600_000, source: 't' } }));
      expect(long).toMatchObject({ severity: 'warning' });
    });

    it('reads rabbitmqctl eval output', () => {
      expect(parseConsumerTimeout('{ok,1800000}\n')).toBe(1_800_000);
      expect(parseConsumerTimeout('{ok,false}')).toBeNull();
      expect(parseConsumerTimeout('undefined')).toBeNull();
      expect(parseConsumerTimeout('Error: unable to perform an operation')).toBeUndefined();
    });
  });

  describe('topology drift', () => {
    it('skips with a clear line without a topology file', () => {
      expect(checkDrift(undefined)).toEqual([expect.objectContaining({ severity: 'info', message: expect.stringContaining('not checked') })]);
    });

    it('calls conflicts problems and missing objects warnings', () => {
      const findings = checkDrift({ file: 'o.yaml', create: ['queue a'], conflict: ['queue b'], unchanged: 3 });
      expect(findings.map((f) => f.severity)).toEqual(['info', 'problem', 'warning']);
      expect(findings[1]?.message).toContain('queue b');
    });
  });

  it('formats problems first and counts them; JSON says ok=false', () => {
    const planted = facts({ nodes: [node({ diskAlarm: true })] });
    const report = buildReport(planted, runChecks(planted), 'amqp://guest:***@host:5672');
    expect(report.ok).toBe(false);
    const text = formatReport(report);
    expect(text.split('\n')[1]).toMatch(/^ {2}PROBLEM {2}node rabbit@a has a disk alarm/);
    expect(text).toContain('1 problem found');
  });
});
