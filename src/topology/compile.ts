import { formatDuration } from '../duration.ts';
import { declaredNameProblems } from './broker-limits.ts';
import { derivedNames } from './names.ts';
import { shardHeader } from '../message/headers.ts';
import type {
  Arguments,
  BindingPlan,
  ConsumerPlan,
  ExchangePlan,
  JobPlan,
  QueuePlan,
  RetryTierPlan,
  SchedulePlan,
  TopologyPlan,
} from './plan.ts';
import type { TickRule } from '../schedules/rule.ts';
import { queueArguments } from './queue-arguments.ts';
import { streamObjects, type EventPlan, type StreamPlan } from '../streams/stream-plan.ts';
import { delayLevelNames } from '../delay/levels.ts';
import { delayObjects } from '../delay/topology.ts';
import { consumerPriorities } from './priorities.ts';
import { BUILTIN_EXCHANGES, type ConsumerSpec, type ExchangeSpec, type QueueSpec, type ScheduleSpec, type TopologyFile } from './schema.ts';

/**
 * A name that two parts of the file (or a derived object) both claim, or
 * that the broker would refuse. `path` is where it comes from; with `atKey`
 * the position is the key itself (e.g. the consumer's name), not its value.
 */
export interface CompileIssue {
  path: (string | number)[];
  message: string;
  atKey?: boolean;
}

/** Where a declared name comes from: the path to report, and whether the file wrote it as is. */
interface Origin {
  path: (string | number)[];
  derived: boolean;
}

export type CompileResult = { ok: true; plan: TopologyPlan } | { ok: false; issues: CompileIssue[] };

type QueueOptions = Omit<QueueSpec, 'bindings' | 'deadLetterExchange' | 'deadLetterRoutingKey'>;

/**
 * Pure: turns a validated topology file into a flat plan. The same file
 * always gives the same plan (objects sorted by name), which is what makes
 * diffing against a live broker meaningful.
 */
export function compileTopology(file: TopologyFile): CompileResult {
  const builder = new PlanBuilder();
  for (const [name, spec] of Object.entries(file.exchanges)) {
    builder.exchange(exchangePlan(name, spec), own(['exchanges', name]));
    for (const binding of spec.bindings) {
      builder.bind({
        source: binding.exchange,
        destination: name,
        destinationType: 'exchange',
        routingKey: binding.routingKey,
        arguments: binding.arguments,
      });
    }
  }
  for (const [name, spec] of Object.entries(file.queues)) addQueue(builder, name, spec, file);
  const exchangeTypes = new Map<string, string>([
    ...BUILTIN_EXCHANGES,
    ...Object.entries(file.exchanges).map(([name, spec]): [string, string] => [name, spec.type]),
  ]);
  const consumers = Object.entries(file.consumers).map(([name, spec]) =>
    addConsumer(builder, name, spec, exchangeTypes.get(spec.source.exchange)),
  );
  const shardCounts = [...new Set(consumers.flatMap((consumer) => (consumer.shards === undefined ? [] : [consumer.shards.count])))].sort((a, b) => a - b);
  const jobs = Object.entries(file.jobs).map(([type, spec]): JobPlan => ({
    type,
    exchange: spec.exchange,
    routingKey: spec.routingKey ?? type,
    ...(spec.orderingKey !== undefined && { orderingKey: spec.orderingKey }),
    // Every count, not only those of consumers this job reaches: a header no exchange reads costs a few bytes.
    ...(spec.orderingKey !== undefined && shardCounts.length > 0 && { shardCounts }),
    payloadSchema: spec.schema,
    ...(spec.description !== undefined && { description: spec.description }),
    ...(spec.delays && { delays: { landingQueue: delayLevelNames.landing(type) } }),
    ...(spec.priority !== undefined && { priority: spec.priority }),
  }));
  const streams = Object.entries(file.streams).map(([name, spec]): StreamPlan => {
    const objects = streamObjects(name, spec);
    builder.exchange(objects.exchange, own(['streams', name]));
    for (const queue of objects.queues) builder.queue(queue, derivedFrom(['streams', name]));
    for (const binding of objects.bindings) builder.bind(binding);
    return objects.stream;
  });
  const events = Object.entries(file.events).map(([type, spec]): EventPlan => ({
    type,
    stream: spec.stream,
    key: spec.key,
    payloadSchema: spec.schema,
    ...(spec.description !== undefined && { description: spec.description }),
  }));
  const delays = delayObjects(
    jobs.filter((job) => job.delays !== undefined),
    file.delays ?? { queueType: 'quorum', leaderLocator: 'balanced' },
  );
  if (delays !== undefined) {
    for (const exchange of delays.exchanges) builder.exchange(exchange, derivedFrom(file.delays !== undefined ? ['delays'] : ['jobs']));
    for (const { queue, jobType } of delays.queues) {
      builder.queue(queue, derivedFrom(jobType !== undefined ? ['jobs', jobType] : file.delays !== undefined ? ['delays'] : ['jobs']));
    }
    for (const binding of delays.bindings) builder.bind(binding);
  }
  const schedules = Object.entries(file.schedules).map(([name, spec]) => schedulePlan(name, spec));
  if (builder.issues.length > 0) return { ok: false, issues: builder.issues };
  const plan: TopologyPlan = {
    ...(file.vhost !== undefined && { vhost: file.vhost }),
    exchanges: sortBy(builder.exchanges, (e) => e.name),
    queues: sortBy(builder.queues, (q) => q.name),
    bindings: sortBy(builder.bindings, (b) => `${b.source}\u0000${b.destination}\u0000${b.routingKey}`),
    jobs: sortBy(jobs, (j) => j.type),
    consumers: sortBy(consumers, (c) => c.name),
    ...(delays !== undefined && { delays: delays.plan }),
    ...(streams.length > 0 && { streams: sortBy(streams, (s) => s.name) }),
    ...(events.length > 0 && { events: sortBy(events, (e) => e.type) }),
    ...(schedules.length > 0 && { schedules: sortBy(schedules, (s) => s.name) }),
  };
  const issues = applyPriorities(plan, file);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, plan };
}

/**
 * A consumer that can receive job types with priorities gets
 * `x-max-priority` on its work queue(s) — the highest `max` of them —
 * unless the file sets `queueOptions.maxPriority` itself. A quorum work
 * queue has no priorities on RabbitMQ 3.10: refused with the fix, rather
 * than priorities silently ignored. Changes `plan` in place.
 */
function applyPriorities(plan: TopologyPlan, file: TopologyFile): CompileIssue[] {
  const issues: CompileIssue[] = [];
  for (const [name, priority] of consumerPriorities(plan)) {
    const spec = file.consumers[name];
    const consumer = plan.consumers.find((c) => c.name === name);
    if (spec === undefined || consumer === undefined || spec.queueOptions.maxPriority !== undefined) continue;
    if (spec.queueOptions.type === 'quorum') {
      const types = priority.jobTypes.map((t) => `"${t}"`).join(', ');
      issues.push({
        path: ['consumers', name],
        atKey: true,
        message:
          `receives job type${priority.jobTypes.length > 1 ? 's' : ''} ${types} with priorities, but its work queue is a quorum queue, ` +
          'which has no priorities on RabbitMQ 3.10 (x-max-priority is for classic queues; a quorum queue would deliver in arrival order): ' +
          'set queueOptions.type: classic, or drop priority from the job type',
      });
      continue;
    }
    for (const queue of plan.queues) if (consumer.queues.includes(queue.name)) queue.arguments['x-max-priority'] = priority.max;
  }
  return issues;
}

function schedulePlan(name: string, spec: ScheduleSpec): SchedulePlan {
  // The schema guarantees exactly one of cron and every.
  const rule: TickRule =
    spec.every !== undefined ? { kind: 'every', everyMs: spec.every } : { kind: 'cron', expression: spec.cron ?? '', timezone: spec.timezone ?? 'UTC' };
  return {
    name,
    jobType: spec.job,
    payload: spec.payload,
    rule,
    missed: spec.missed,
    catchUpLimit: spec.catchUpLimit,
    graceMs: spec.grace,
    ...(spec.description !== undefined && { description: spec.description }),
  };
}

class PlanBuilder {
  readonly exchanges: ExchangePlan[] = [];
  readonly queues: QueuePlan[] = [];
  readonly bindings: BindingPlan[] = [];
  readonly issues: CompileIssue[] = [];
  private readonly owners = new Map<string, string>();

  exchange(plan: ExchangePlan, origin: Origin): void {
    if (this.claim('exchange', plan.name, origin)) this.exchanges.push(plan);
  }

  queue(plan: QueuePlan, origin: Origin): void {
    if (this.claim('queue', plan.name, origin)) this.queues.push(plan);
  }

  bind(binding: BindingPlan): void {
    this.bindings.push(binding);
  }

  private claim(kind: 'exchange' | 'queue', name: string, origin: Origin): boolean {
    const key = `${kind} ${name}`;
    const owner = this.owners.get(key);
    if (owner !== undefined) {
      this.issues.push({ path: origin.path, message: `duplicate name: ${key} is also defined by ${owner}` });
      return false;
    }
    this.owners.set(key, origin.path.join('.'));
    for (const message of declaredNameProblems(kind, name, origin.derived)) {
      this.issues.push({ path: origin.path, message, atKey: true });
    }
    return true;
  }
}

/** A name written in the file at `path`. */
const own = (path: (string | number)[]): Origin => ({ path, derived: false });
/** A name warren derives from what is written at `path`. */
const derivedFrom = (path: (string | number)[]): Origin => ({ path, derived: true });

function exchangePlan(name: string, spec: ExchangeSpec): ExchangePlan {
  const args: Arguments = { ...spec.arguments };
  if (spec.alternateExchange !== undefined) args['alternate-exchange'] = spec.alternateExchange;
  if (spec.hashOn !== undefined && spec.hashOn !== 'routing-key') {
    if ('header' in spec.hashOn) args['hash-header'] = spec.hashOn.header;
    else args['hash-property'] = spec.hashOn.property;
  }
  return {
    name,
    type: spec.type,
    durable: spec.durable,
    autoDelete: spec.autoDelete,
    internal: spec.internal,
    arguments: args,
  };
}

function queuePlan(name: string, options: QueueOptions, extra: Arguments = {}): QueuePlan {
  return {
    name,
    type: options.type,
    durable: options.durable,
    autoDelete: options.autoDelete,
    arguments: { ...queueArguments(options), ...extra },
  };
}

function addQueue(builder: PlanBuilder, name: string, spec: QueueSpec, file: TopologyFile): void {
  const path = ['queues', name];
  const extra: Arguments = {};
  if (spec.deadLetterExchange !== undefined) extra['x-dead-letter-exchange'] = spec.deadLetterExchange;
  if (spec.deadLetterRoutingKey !== undefined) extra['x-dead-letter-routing-key'] = spec.deadLetterRoutingKey;
  // A quorum queue without a dead-letter target silently drops messages past
  // its delivery limit (20 by default on RabbitMQ 4), so it always gets one,
  // as durable as the queue itself.
  const needsDeadLetter =
    spec.type === 'quorum' && spec.deadLetterExchange === undefined && spec.arguments['x-dead-letter-exchange'] === undefined;
  if (needsDeadLetter) {
    const dlx = derivedNames.queueDeadLetterExchange(name);
    const dlq = derivedNames.queueDeadLetterQueue(name);
    extra['x-dead-letter-exchange'] = dlx;
    builder.exchange(fanout(dlx), derivedFrom(path));
    builder.queue(queuePlan(dlq, derivedQueueOptions(spec.type, spec.leaderLocator)), derivedFrom(path));
    builder.bind({ source: dlx, destination: dlq, destinationType: 'queue', routingKey: '', arguments: {} });
  }
  builder.queue(queuePlan(name, spec, extra), own(path));
  for (const binding of spec.bindings) {
    const isHash = file.exchanges[binding.exchange]?.type === 'x-consistent-hash';
    builder.bind({
      source: binding.exchange,
      destination: name,
      destinationType: 'queue',
      // A consistent-hash binding key is the queue's weight.
      routingKey: isHash && binding.routingKey === '' ? '1' : binding.routingKey,
      arguments: binding.arguments,
    });
  }
}

function addConsumer(
  builder: PlanBuilder,
  name: string,
  spec: ConsumerSpec,
  sourceType: string | undefined,
): ConsumerPlan {
  const path = ['consumers', name];
  // A name derived from the work queue's name is reported at `queue:` when the file sets one.
  const queuePath = spec.queue !== undefined ? [...path, 'queue'] : path;
  const workQueue = spec.queue ?? name;
  const dlx = derivedNames.deadLetterExchange(name);
  const dlq = derivedNames.deadLetterQueue(name);
  const patterns = sourcePatterns(spec, sourceType);
  const { leaderLocator } = spec.queueOptions;

  builder.exchange(fanout(dlx), derivedFrom(path));
  // The DLQ is as durable as the work queue unless the file says otherwise:
  // a quorum consumer's dead letters survive a node loss too.
  const dlqType = spec.deadLetter.queueType ?? spec.queueOptions.type;
  builder.queue(queuePlan(dlq, derivedQueueOptions(dlqType, leaderLocator)), derivedFrom(path));
  builder.bind({ source: dlx, destination: dlq, destinationType: 'queue', routingKey: '', arguments: {} });

  const deadLetterArgs: Arguments = { 'x-dead-letter-exchange': dlx };
  let queues: string[];
  let shards: ConsumerPlan['shards'];
  if (spec.shards !== undefined) {
    const exchange = derivedNames.shardExchange(name);
    // A headers exchange on the shard the producer picked (`x-warren-shard-<N>`):
    // the key → shard mapping is warren's hash, not a ring the broker rebuilds
    // in binding-recovery order after a restart. A message without the header
    // (a keyless job, a producer that does not set it) matches no shard: the
    // alternate exchange puts it in the consumer's DLQ instead of dropping it.
    builder.exchange(
      { ...fanout(exchange), type: 'headers', arguments: { 'alternate-exchange': dlx } },
      derivedFrom(path),
    );
    bindSource(builder, spec, patterns, exchange, 'exchange');
    const header = shardHeader(spec.shards);
    queues = Array.from({ length: spec.shards }, (_, index) => derivedNames.shardQueue(workQueue, index));
    queues.forEach((queue, index) => {
      // One active consumer per shard is what makes per-key order hold
      // across several worker processes and through failover.
      builder.queue(
        queuePlan(queue, spec.queueOptions, { ...deadLetterArgs, 'x-single-active-consumer': true }),
        derivedFrom(queuePath),
      );
      // `all-with-x`, not `all`: RabbitMQ's `all` and `any` skip headers starting with `x-`.
      builder.bind({ source: exchange, destination: queue, destinationType: 'queue', routingKey: '', arguments: { 'x-match': 'all-with-x', [header]: String(index) } });
    });
    shards = { count: spec.shards, exchange };
  } else {
    builder.queue(queuePlan(workQueue, spec.queueOptions, deadLetterArgs), spec.queue !== undefined ? own(queuePath) : own(path));
    bindSource(builder, spec, patterns, workQueue, 'queue');
    queues = [workQueue];
  }

  const delaysMs = spec.retry.delays;
  const retryType = spec.retry.queueType ?? spec.queueOptions.type;
  const tiers: RetryTierPlan[] =
    spec.shards !== undefined
      ? []
      : delaysMs.map((delayMs) => retryTier(builder, name, workQueue, delayMs, derivedQueueOptions(retryType, leaderLocator)));
  return {
    name,
    source: { exchange: spec.source.exchange, patterns },
    queues,
    ...(shards !== undefined && { shards }),
    prefetch: spec.prefetch,
    retry: { maxAttempts: spec.retry.maxAttempts ?? delaysMs.length + 1, delaysMs, tiers },
    deadLetter: { exchange: dlx, queue: dlq },
    queueType: spec.queueOptions.type,
    ...(spec.rateLimit !== undefined && { rateLimit: { max: spec.rateLimit.max, perMs: spec.rateLimit.per } }),
  };
}

function retryTier(builder: PlanBuilder, consumer: string, workQueue: string, delayMs: number, options: QueueOptions): RetryTierPlan {
  const queue = derivedNames.retryQueue(consumer, delayMs);
  // Per-queue TTL (not per-message): every message in a tier expires in
  // publish order, so a long delay never holds back a short one.
  const args: Arguments = {
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': workQueue,
  };
  if (options.type === 'quorum') {
    // At-least-once dead-lettering: the tier keeps an expired copy until the
    // work queue has confirmed it, so a retry is not lost while the work
    // queue is briefly unavailable (leader election, node restart). It needs
    // overflow reject-publish, which without a length limit never rejects.
    args['x-dead-letter-strategy'] = 'at-least-once';
    args['x-overflow'] = 'reject-publish';
  }
  builder.queue(queuePlan(queue, options, args), derivedFrom(['consumers', consumer]));
  return { delayMs, label: formatDuration(delayMs), queue };
}

function bindSource(
  builder: PlanBuilder,
  spec: ConsumerSpec,
  patterns: string[],
  destination: string,
  destinationType: 'queue' | 'exchange',
): void {
  for (const routingKey of patterns) {
    builder.bind({
      source: spec.source.exchange,
      destination,
      destinationType,
      routingKey,
      arguments: spec.source.arguments,
    });
  }
}

function sourcePatterns(spec: ConsumerSpec, sourceType: string | undefined): string[] {
  const { pattern } = spec.source;
  // A consistent-hash binding key is the queue's weight, never a pattern.
  if (pattern === undefined) return [sourceType === 'topic' ? '#' : sourceType === 'x-consistent-hash' ? '1' : ''];
  return typeof pattern === 'string' ? [pattern] : [...new Set(pattern)].sort();
}

function fanout(name: string): ExchangePlan {
  return { name, type: 'fanout', durable: true, autoDelete: false, internal: false, arguments: {} };
}

/** Options of a queue warren derives (DLQ, retry tier): durable, of the given type and placement. */
function derivedQueueOptions(type: QueueOptions['type'], leaderLocator: QueueOptions['leaderLocator']): QueueOptions {
  return { type, durable: true, autoDelete: false, leaderLocator, arguments: {} };
}

function sortBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
