import { z } from 'zod';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../duration.ts';
import {
  bindingArgumentProblems,
  bindingKeyProblem,
  exchangeArgumentProblems,
  MAX_TTL_MS,
  queueArgumentProblems,
  shortStringProblem,
  utf8Bytes,
} from './broker-limits.ts';
import { MAX_DELAYED_JOB_TYPE_BYTES } from '../delay/levels.ts';
import { queueArguments } from './queue-arguments.ts';
import { cronProblem, timeZoneProblem } from '../schedules/rule.ts';

/**
 * The topology file, as users write it. Everything is strict (an unknown key
 * is a typo, and a typo in topology is an outage) and durable by default.
 * Cross-references (a binding to an unknown exchange, a job on a missing
 * exchange) are checked here too, so every error carries a path that the
 * loader turns into `file:line:col`.
 */

const NAME = /^[A-Za-z0-9_.:\-]+$/;

/** Names are ASCII (the pattern), so 255 characters are 255 bytes: an AMQP short string. */
export const Name = z
  .string()
  .min(1)
  .max(255, 'names are at most 255 bytes (an AMQP short string)')
  .regex(NAME, 'names may use letters, digits and . _ - : only');

/** Free text the broker carries as an AMQP short string: routing keys, binding keys, header names, the vhost. */
const shortString = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const problem = shortStringProblem(what, value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const RoutingKey = shortString('routing key');

export const Duration = z
  .union([
    z.string().meta({ pattern: DURATION_PATTERN.source, description: 'e.g. 500ms, 10s, 1m, 2h, 1d' }),
    z.number().meta({ description: 'milliseconds' }),
  ])
  .transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(value)}: use a number of ms or e.g. 500ms, 10s, 1m, 2h, 1d`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A duration RabbitMQ takes as `x-message-ttl` / `x-expires` (at most 3650 days). */
const TtlDuration = Duration.superRefine((ms, ctx) => {
  if (ms > MAX_TTL_MS) {
    ctx.addIssue({ code: 'custom', message: `${formatDuration(ms)} is longer than RabbitMQ's limit of 3650d for a queue TTL` });
  }
});

const ArgumentValue = z.union([z.string(), z.number(), z.boolean()]);
const Arguments = z.record(z.string(), ArgumentValue);

export const BindingSpec = z.strictObject({
  exchange: Name,
  routingKey: RoutingKey.default(''),
  arguments: Arguments.default({}),
});

export const ExchangeType = z.enum(['topic', 'fanout', 'direct', 'headers', 'x-consistent-hash']);

/** How an x-consistent-hash exchange picks the value it hashes. */
const HashOn = z.union([
  z.literal('routing-key'),
  z.strictObject({ header: shortString('header name').pipe(z.string().min(1)) }),
  z.strictObject({
    property: z.enum(['message_id', 'correlation_id', 'timestamp']),
  }),
]);

export const ExchangeSpec = z
  .strictObject({
    type: ExchangeType,
    durable: z.boolean().default(true),
    autoDelete: z.boolean().default(false),
    internal: z.boolean().default(false),
    alternateExchange: Name.optional(),
    hashOn: HashOn.optional(),
    arguments: Arguments.default({}),
    /** Exchange-to-exchange bindings: this exchange receives from each source. */
    bindings: z.array(BindingSpec).default([]),
  })
  .superRefine((exchange, ctx) => {
    if (exchange.hashOn !== undefined && exchange.type !== 'x-consistent-hash') {
      ctx.addIssue({
        code: 'custom',
        path: ['hashOn'],
        message: 'hashOn is only valid for exchanges of type x-consistent-hash',
      });
    }
    for (const problem of exchangeArgumentProblems(exchange.type, exchange.arguments)) {
      ctx.addIssue({ code: 'custom', path: ['arguments', problem.key], message: problem.message });
    }
    if (exchange.hashOn !== undefined && (exchange.arguments['hash-header'] !== undefined || exchange.arguments['hash-property'] !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['hashOn'], message: 'set hashOn or a hash-header/hash-property argument, not both' });
    }
  });

export const QueueType = z.enum(['classic', 'quorum']);
export const Overflow = z.enum(['drop-head', 'reject-publish', 'reject-publish-dlx']);
/**
 * Where a new queue's leader (classic: its only copy) is placed in a cluster.
 * `balanced` spreads them over the nodes instead of piling them on the node
 * `apply` talked to; `broker-default` sends no argument (the node's
 * `queue_leader_locator` / `queue_master_locator` config or a policy decides).
 */
export const LeaderLocator = z.enum(['balanced', 'client-local', 'broker-default']);

/** Queue options shared by plain queues and the work queues of consumers. */
const QueueOptionsShape = {
  type: QueueType.default('quorum'),
  durable: z.boolean().default(true),
  autoDelete: z.boolean().default(false),
  maxLength: z.number().int().nonnegative().optional(),
  maxLengthBytes: z.number().int().nonnegative().optional(),
  overflow: Overflow.optional(),
  messageTtl: Duration.optional(),
  expires: Duration.optional(),
  singleActiveConsumer: z.boolean().optional(),
  deliveryLimit: z.number().int().positive().optional(),
  maxPriority: z.number().int().min(1).max(255).optional(),
  leaderLocator: LeaderLocator.default('balanced'),
  arguments: Arguments.default({}),
};

/** The option a queue argument comes from, to put a problem where the user wrote it. */
const OPTION_OF_ARGUMENT: Record<string, string> = {
  'x-max-length': 'maxLength',
  'x-max-length-bytes': 'maxLengthBytes',
  'x-overflow': 'overflow',
  'x-message-ttl': 'messageTtl',
  'x-expires': 'expires',
  'x-single-active-consumer': 'singleActiveConsumer',
  'x-delivery-limit': 'deliveryLimit',
  'x-max-priority': 'maxPriority',
  'x-queue-leader-locator': 'leaderLocator',
  'x-queue-master-locator': 'leaderLocator',
  'x-dead-letter-exchange': 'deadLetterExchange',
  'x-dead-letter-routing-key': 'deadLetterRoutingKey',
};

type CheckedQueueOptions = z.output<z.ZodObject<typeof QueueOptionsShape>> & {
  deadLetterExchange?: string | undefined;
  deadLetterRoutingKey?: string | undefined;
};

/**
 * What RabbitMQ refuses (or silently ignores) for this queue type, caught
 * here with a position instead of as a 403/406 half-way through `apply`.
 * Checked on the final argument table, so an option and a raw argument are
 * held to the same rules.
 */
function checkQueueOptions(options: CheckedQueueOptions, ctx: z.RefinementCtx, derivedDeadLetter: boolean): void {
  const refuse = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (options.type === 'quorum') {
    if (!options.durable) refuse(['durable'], 'quorum queues are always durable (set type: classic for a non-durable queue)');
    if (options.autoDelete) refuse(['autoDelete'], 'quorum queues cannot be auto-delete (set type: classic for one)');
  }
  if (options.arguments['x-queue-type'] !== undefined) {
    refuse(['arguments', 'x-queue-type'], 'set the queue type with `type: classic|quorum`, not as an argument');
  }
  const args = {
    // A consumer's work queue, and a quorum queue that names no target, get a dead-letter exchange from compile.
    ...(derivedDeadLetter && { 'x-dead-letter-exchange': '(derived)' }),
    ...queueArguments(options),
    ...(options.deadLetterExchange !== undefined && { 'x-dead-letter-exchange': options.deadLetterExchange }),
    ...(options.deadLetterRoutingKey !== undefined && { 'x-dead-letter-routing-key': options.deadLetterRoutingKey }),
  };
  for (const problem of queueArgumentProblems(options.type, args)) {
    const option = OPTION_OF_ARGUMENT[problem.key];
    const path =
      problem.key in options.arguments
        ? ['arguments', problem.key]
        : option !== undefined && (options as Record<string, unknown>)[option] !== undefined
          ? [option]
          : ['type'];
    refuse(path, problem.message);
  }
}

export const QueueSpec = z
  .strictObject({
    ...QueueOptionsShape,
    deadLetterExchange: shortString('dead-letter exchange').optional(),
    deadLetterRoutingKey: RoutingKey.optional(),
    bindings: z.array(BindingSpec).default([]),
  })
  .superRefine((queue, ctx) => checkQueueOptions(queue, ctx, queue.type === 'quorum'));

export const WorkQueueOptions = z.strictObject(QueueOptionsShape).superRefine((options, ctx) => checkQueueOptions(options, ctx, true));

const JsonSchemaObject = z.record(z.string(), z.unknown());

export const JobSpec = z.strictObject({
  exchange: Name,
  /** Defaults to the job type. */
  routingKey: RoutingKey.optional(),
  /** Dot path of the payload field whose value orders jobs (e.g. `orderId`). */
  orderingKey: z.string().min(1).optional(),
  /** JSON Schema of the payload; turned into a zod schema at load time. */
  schema: JsonSchemaObject.default({ type: 'object' }),
  description: z.string().optional(),
  /** The job type takes `delay` / `runAt` (README "Jobs for later"); the delay levels are declared when one does. */
  delays: z.boolean().default(false),
  /** Priorities 0 … max; `default` when `enqueue` names none (else none, which RabbitMQ reads as 0). */
  priority: z
    .strictObject({ max: z.number().int().min(1).max(255), default: z.number().int().min(0).max(255).optional() })
    .superRefine((priority, ctx) => {
      if (priority.default !== undefined && priority.default > priority.max) {
        ctx.addIssue({ code: 'custom', path: ['default'], message: `the default priority must be within 0 … ${priority.max}` });
      }
    })
    .optional(),
});

/** Settings of the delay levels, shared by every job type with `delays: true`. */
export const DelaysSpec = z.strictObject({
  /** Quorum by default: delayed jobs survive a node loss and are dead-lettered at-least-once. */
  queueType: QueueType.default('quorum'),
  leaderLocator: LeaderLocator.default('balanced'),
});

export const RetrySpec = z
  .strictObject({
    delays: z.array(TtlDuration).default([]),
    maxAttempts: z.number().int().positive().optional(),
    /** Type of the delay queues; default: the type of the consumer's work queue. */
    queueType: QueueType.optional(),
  })
  .superRefine((retry, ctx) => {
    const seen = new Set<number>();
    retry.delays.forEach((ms, index) => {
      if (ms <= 0) ctx.addIssue({ code: 'custom', path: ['delays', index], message: 'a retry delay must be > 0' });
      if (seen.has(ms)) ctx.addIssue({ code: 'custom', path: ['delays', index], message: 'duplicate retry delay' });
      seen.add(ms);
    });
  });

export const SourceSpec = z.strictObject(
  {
    exchange: Name,
    /** Binding key(s). Defaults: `#` for topic, `1` (the weight) for x-consistent-hash, `''` otherwise. */
    pattern: z.union([shortString('binding pattern'), z.array(shortString('binding pattern')).min(1)]).optional(),
    arguments: Arguments.default({}),
  },
  {
    error: (issue) =>
      issue.input === undefined ? 'a consumer needs a source: { exchange: <name>, pattern: <binding key> }' : undefined,
  },
);

export const ConsumerSpec = z.strictObject({
  source: SourceSpec,
  /** Work queue name; defaults to the consumer name. */
  queue: Name.optional(),
  queueOptions: WorkQueueOptions.prefault({}),
  prefetch: z.number().int().min(1).max(65_535).default(10),
  retry: RetrySpec.prefault({}),
  /** The consumer's DLQ; its type defaults to the type of the work queue. */
  deadLetter: z.strictObject({ queueType: QueueType.optional() }).prefault({}),
  /** N shard queues behind a headers exchange on `x-warren-shard-<N>` (the producer picks the shard): per-key ordering. */
  shards: z.number().int().min(1).max(256).optional(),
  /** At most `max` jobs per `per` across every worker process of this consumer (see README, Rate limits). */
  rateLimit: z
    .strictObject({
      max: z.number().int().min(1).max(1_000_000),
      per: Duration.refine((ms) => ms >= 1 && ms <= 86_400_000, 'per must be between 1ms and 1d'),
    })
    .optional(),
  description: z.string().optional(),
});

/** A partitioned log: N stream queues behind a direct exchange (src/streams). */
export const StreamSpec = z.strictObject({
  partitions: z.number().int().min(1).max(1_000),
  retention: z
    .strictObject({
      /** `x-max-age`, whole seconds (RabbitMQ has no smaller unit). */
      maxAge: Duration.refine((ms) => ms >= 1_000 && ms % 1_000 === 0, 'a stream maxAge is a whole number of seconds (at least 1s)').optional(),
      /** `x-max-length-bytes`, per partition. */
      maxLengthBytes: z.number().int().positive().optional(),
    })
    .prefault({}),
  /** `x-stream-max-segment-size-bytes`: retention removes whole segments. */
  segmentSizeBytes: z.number().int().positive().max(3_000_000_000).optional(),
  description: z.string().optional(),
});

/** An event type: published to a stream's partition picked by the key field. */
export const EventSpec = z.strictObject({
  stream: Name,
  /** Dot path of the payload field whose value is the partition key (e.g. `orderId`). */
  key: z.string().min(1),
  schema: JsonSchemaObject.default({ type: 'object' }),
  description: z.string().optional(),
});
/** What a scheduler does with ticks it finds more than `grace` late (all replicas were down, or the database was). */
export const MissedPolicy = z.enum(['skip', 'catch-up']);

/**
 * A recurring job: `warren scheduler` enqueues `job` with `payload` at every
 * tick of `cron` (in `timezone`) or of `every` (aligned to the Unix epoch, so
 * every replica computes the same ticks). Each tick's job id is
 * `schedule:<name>:<tick ISO time>`.
 */
export const ScheduleSpec = z
  .strictObject({
    job: Name,
    payload: z.unknown().default({}),
    /** 5 fields (minute precision) or 6 (with seconds first), as croner reads them. */
    cron: z.string().min(1).optional(),
    /** IANA name; only with `cron`. @defaultValue UTC */
    timezone: z.string().min(1).optional(),
    /** A fixed interval instead of a cron expression. */
    every: Duration.optional(),
    missed: MissedPolicy.default('skip'),
    /** catch-up: at most this many missed ticks are enqueued (the most recent ones). */
    catchUpLimit: z.number().int().min(1).max(1_000).default(10),
    /** A tick up to this late is not "missed": it is enqueued late (handover, restart). */
    grace: Duration.default(60_000),
    description: z.string().optional(),
  })
  .superRefine((schedule, ctx) => {
    const refuse = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if ((schedule.cron === undefined) === (schedule.every === undefined)) {
      refuse([], 'a schedule needs exactly one of cron or every');
    }
    if (schedule.cron !== undefined) {
      const problem = cronProblem(schedule.cron);
      if (problem) refuse(['cron'], problem);
    }
    if (schedule.timezone !== undefined) {
      if (schedule.cron === undefined) refuse(['timezone'], 'timezone only applies to cron (every is a fixed interval)');
      const problem = timeZoneProblem(schedule.timezone);
      if (problem) refuse(['timezone'], problem);
    }
    if (schedule.every !== undefined && schedule.every < 1_000) refuse(['every'], 'every must be at least 1s');
  });

/** Schedule names end up in job ids (`schedule:<name>:<tick>`, at most 200 characters). */
const ScheduleName = Name.pipe(z.string().max(150, 'schedule names are at most 150 characters (they are part of the job id)'));

export const TopologyFile = z
  .strictObject({
    version: z.literal(1).default(1),
    vhost: shortString('vhost name').pipe(z.string().min(1)).optional(),
    exchanges: z.record(Name, ExchangeSpec).default({}),
    queues: z.record(Name, QueueSpec).default({}),
    jobs: z.record(Name, JobSpec).default({}),
    consumers: z.record(Name, ConsumerSpec).default({}),
    streams: z.record(Name, StreamSpec).default({}),
    events: z.record(Name, EventSpec).default({}),
    delays: DelaysSpec.optional(),
    schedules: z.record(ScheduleName, ScheduleSpec).default({}),
  })
  .superRefine(checkReferences);

export type TopologyFileInput = z.input<typeof TopologyFile>;
export type TopologyFile = z.output<typeof TopologyFile>;
export type ExchangeSpec = z.output<typeof ExchangeSpec>;
export type QueueSpec = z.output<typeof QueueSpec>;
export type JobSpec = z.output<typeof JobSpec>;
export type ConsumerSpec = z.output<typeof ConsumerSpec>;
export type ScheduleSpec = z.output<typeof ScheduleSpec>;
export type ExchangeType = z.output<typeof ExchangeType>;

/** The exchanges every vhost has, with their types (for default binding keys). */
export const BUILTIN_EXCHANGES: ReadonlyMap<string, ExchangeType> = new Map([
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
]);

function checkReferences(file: TopologyFile, ctx: z.RefinementCtx): void {
  const exchanges = new Set(Object.keys(file.exchanges));
  const known = (name: string) => exchanges.has(name) || name === '' || BUILTIN_EXCHANGES.has(name);
  const typeOf = (name: string): string | undefined => file.exchanges[name]?.type ?? BUILTIN_EXCHANGES.get(name);
  const refuse = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const unknown = (path: (string | number)[], name: string) => refuse(path, `unknown exchange "${name}" (declare it under exchanges)`);
  /** What the source exchange's type asks of a binding's key and arguments. */
  const checkBinding = (path: (string | number)[], source: string, routingKey: string, args: Record<string, string | number | boolean>) => {
    const keyProblem = bindingKeyProblem(typeOf(source), routingKey);
    if (keyProblem) refuse([...path, 'routingKey'], keyProblem);
    for (const problem of bindingArgumentProblems(typeOf(source), args)) refuse([...path, 'arguments', problem.key], problem.message);
  };

  for (const [name, exchange] of Object.entries(file.exchanges)) {
    if (exchange.alternateExchange && !known(exchange.alternateExchange)) {
      unknown(['exchanges', name, 'alternateExchange'], exchange.alternateExchange);
    }
    exchange.bindings.forEach((binding, index) => {
      const path = ['exchanges', name, 'bindings', index];
      if (!known(binding.exchange)) unknown([...path, 'exchange'], binding.exchange);
      if (binding.exchange === name) refuse(path, 'an exchange cannot bind to itself');
      // Only the file's own bindings are checked; an empty key on a hash exchange becomes weight 1.
      checkBinding(path, binding.exchange, hashWeightDefault(typeOf(binding.exchange), binding.routingKey), binding.arguments);
    });
  }
  for (const [name, queue] of Object.entries(file.queues)) {
    queue.bindings.forEach((binding, index) => {
      const path = ['queues', name, 'bindings', index];
      if (!known(binding.exchange)) unknown([...path, 'exchange'], binding.exchange);
      checkBinding(path, binding.exchange, hashWeightDefault(typeOf(binding.exchange), binding.routingKey), binding.arguments);
    });
    if (queue.deadLetterExchange !== undefined && !known(queue.deadLetterExchange)) {
      unknown(['queues', name, 'deadLetterExchange'], queue.deadLetterExchange);
    }
  }
  for (const [name, job] of Object.entries(file.jobs)) {
    if (!known(job.exchange)) unknown(['jobs', name, 'exchange'], job.exchange);
    if (job.delays && utf8Bytes(name) > MAX_DELAYED_JOB_TYPE_BYTES) {
      refuse(['jobs', name, 'delays'], `a job type with delays has a name of at most ${MAX_DELAYED_JOB_TYPE_BYTES} bytes (the delay bits take the rest of the routing key)`);
    }
    if (file.exchanges[job.exchange]?.internal) {
      refuse(['jobs', name, 'exchange'], `exchange "${job.exchange}" is internal: RabbitMQ refuses every publish to it`);
    }
  }
  for (const [name, event] of Object.entries(file.events)) {
    if (file.streams[event.stream] === undefined) refuse(['events', name, 'stream'], `unknown stream "${event.stream}" (declare it under streams)`);
    if (file.jobs[name] !== undefined) refuse(['events', name], `"${name}" is both a job type and an event type`);
  }
  for (const [name, schedule] of Object.entries(file.schedules)) {
    if (file.jobs[schedule.job] === undefined) refuse(['schedules', name, 'job'], `unknown job type "${schedule.job}" (declare it under jobs)`);
  }
  for (const [name, consumer] of Object.entries(file.consumers)) {
    const path = ['consumers', name, 'source'];
    if (!known(consumer.source.exchange)) unknown([...path, 'exchange'], consumer.source.exchange);
    const sourceType = typeOf(consumer.source.exchange);
    if (consumer.shards !== undefined && sourceType === 'x-consistent-hash') {
      refuse(
        ['consumers', name, 'shards'],
        'a sharded consumer routes through its own shard exchange; use a topic, direct, fanout or headers source',
      );
    }
    const { pattern } = consumer.source;
    const patterns = pattern === undefined ? [] : typeof pattern === 'string' ? [pattern] : pattern;
    patterns.forEach((key, index) => {
      const problem = bindingKeyProblem(sourceType, key);
      if (problem) refuse(typeof pattern === 'string' ? [...path, 'pattern'] : [...path, 'pattern', index], problem);
    });
    for (const problem of bindingArgumentProblems(sourceType, consumer.source.arguments)) {
      refuse([...path, 'arguments', problem.key], problem.message);
    }
  }
}

/** A binding to a consistent-hash exchange written without a key gets weight 1 (compile does the same). */
function hashWeightDefault(sourceType: string | undefined, routingKey: string): string {
  return sourceType === 'x-consistent-hash' && routingKey === '' ? '1' : routingKey;
}
