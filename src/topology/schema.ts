import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../duration.ts';

/**
 * The topology file, as users write it. Everything is strict (an unknown key
 * is a typo, and a typo in topology is an outage) and durable by default.
 * Cross-references (a binding to an unknown exchange, a job on a missing
 * exchange) are checked here too, so every error carries a path that the
 * loader turns into `file:line:col`.
 */

const NAME = /^[A-Za-z0-9_.:\-]+$/;

export const Name = z
  .string()
  .min(1)
  .max(255)
  .regex(NAME, 'names may use letters, digits and . _ - : only');

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

const ArgumentValue = z.union([z.string(), z.number(), z.boolean()]);
const Arguments = z.record(z.string(), ArgumentValue);

export const BindingSpec = z.strictObject({
  exchange: Name,
  routingKey: z.string().default(''),
  arguments: Arguments.default({}),
});

export const ExchangeType = z.enum(['topic', 'fanout', 'direct', 'headers', 'x-consistent-hash']);

/** How an x-consistent-hash exchange picks the value it hashes. */
const HashOn = z.union([
  z.literal('routing-key'),
  z.strictObject({ header: z.string().min(1) }),
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
  });

export const QueueType = z.enum(['classic', 'quorum']);
export const Overflow = z.enum(['drop-head', 'reject-publish', 'reject-publish-dlx']);

/** Queue options shared by plain queues and the work queues of consumers. */
const QueueOptionsShape = {
  type: QueueType.default('classic'),
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
  arguments: Arguments.default({}),
};

/**
 * What RabbitMQ refuses for quorum queues, caught here with a position
 * instead of as a 406 at apply time.
 */
function checkQuorumOptions(options: { type: string; durable: boolean; autoDelete: boolean; maxPriority?: number; overflow?: string }, ctx: z.RefinementCtx): void {
  if (options.type !== 'quorum') return;
  const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (!options.durable) refuse('durable', 'quorum queues are always durable');
  if (options.autoDelete) refuse('autoDelete', 'quorum queues cannot be auto-delete');
  if (options.maxPriority !== undefined) refuse('maxPriority', 'quorum queues do not support priorities');
  if (options.overflow === 'reject-publish-dlx') refuse('overflow', 'quorum queues support overflow drop-head or reject-publish only');
}

export const QueueSpec = z
  .strictObject({
    ...QueueOptionsShape,
    deadLetterExchange: z.string().optional(),
    deadLetterRoutingKey: z.string().optional(),
    bindings: z.array(BindingSpec).default([]),
  })
  .superRefine(checkQuorumOptions);

export const WorkQueueOptions = z.strictObject(QueueOptionsShape).superRefine(checkQuorumOptions);

const JsonSchemaObject = z.record(z.string(), z.unknown());

export const JobSpec = z.strictObject({
  exchange: Name,
  /** Defaults to the job type. */
  routingKey: z.string().optional(),
  /** Dot path of the payload field whose value orders jobs (e.g. `orderId`). */
  orderingKey: z.string().min(1).optional(),
  /** JSON Schema of the payload; turned into a zod schema at load time. */
  schema: JsonSchemaObject.default({ type: 'object' }),
  description: z.string().optional(),
});

export const RetrySpec = z
  .strictObject({
    delays: z.array(Duration).default([]),
    maxAttempts: z.number().int().positive().optional(),
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
    pattern: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
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
  queueOptions: WorkQueueOptions.default({ type: 'classic', durable: true, autoDelete: false, arguments: {} }),
  prefetch: z.number().int().min(1).max(65_535).default(10),
  retry: RetrySpec.default({ delays: [] }),
  /** N shard queues behind a consistent-hash exchange: per-key ordering. */
  shards: z.number().int().min(1).max(256).optional(),
  description: z.string().optional(),
});

export const TopologyFile = z
  .strictObject({
    version: z.literal(1).default(1),
    vhost: z.string().min(1).optional(),
    exchanges: z.record(Name, ExchangeSpec).default({}),
    queues: z.record(Name, QueueSpec).default({}),
    jobs: z.record(Name, JobSpec).default({}),
    consumers: z.record(Name, ConsumerSpec).default({}),
  })
  .superRefine(checkReferences);

export type TopologyFileInput = z.input<typeof TopologyFile>;
export type TopologyFile = z.output<typeof TopologyFile>;
export type ExchangeSpec = z.output<typeof ExchangeSpec>;
export type QueueSpec = z.output<typeof QueueSpec>;
export type JobSpec = z.output<typeof JobSpec>;
export type ConsumerSpec = z.output<typeof ConsumerSpec>;
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
  const unknown = (path: (string | number)[], name: string) =>
    ctx.addIssue({ code: 'custom', path, message: `unknown exchange "${name}" (declare it under exchanges)` });

  for (const [name, exchange] of Object.entries(file.exchanges)) {
    if (exchange.alternateExchange && !known(exchange.alternateExchange)) {
      unknown(['exchanges', name, 'alternateExchange'], exchange.alternateExchange);
    }
    exchange.bindings.forEach((binding, index) => {
      if (!known(binding.exchange)) unknown(['exchanges', name, 'bindings', index, 'exchange'], binding.exchange);
      if (binding.exchange === name) {
        ctx.addIssue({ code: 'custom', path: ['exchanges', name, 'bindings', index], message: 'an exchange cannot bind to itself' });
      }
    });
  }
  for (const [name, queue] of Object.entries(file.queues)) {
    queue.bindings.forEach((binding, index) => {
      if (!known(binding.exchange)) unknown(['queues', name, 'bindings', index, 'exchange'], binding.exchange);
    });
    if (queue.deadLetterExchange !== undefined && !known(queue.deadLetterExchange)) {
      unknown(['queues', name, 'deadLetterExchange'], queue.deadLetterExchange);
    }
  }
  for (const [name, job] of Object.entries(file.jobs)) {
    if (!known(job.exchange)) unknown(['jobs', name, 'exchange'], job.exchange);
  }
  for (const [name, consumer] of Object.entries(file.consumers)) {
    if (!known(consumer.source.exchange)) unknown(['consumers', name, 'source', 'exchange'], consumer.source.exchange);
    const sourceType = file.exchanges[consumer.source.exchange]?.type;
    if (consumer.shards !== undefined && sourceType === 'x-consistent-hash') {
      ctx.addIssue({
        code: 'custom',
        path: ['consumers', name, 'shards'],
        message: 'a sharded consumer makes its own consistent-hash exchange; use a topic, direct, fanout or headers source',
      });
    }
  }
}
