import type { ArgumentValue } from './plan.ts';

/**
 * Pure: what RabbitMQ (3.10.8, checked by declaring on the broker) refuses or
 * silently ignores, so `validate` can say it with a position instead of
 * `apply` meeting a 403/406 half-way through a file. Each check returns
 * problems in words; the schema and the compiler attach the positions.
 */

/** AMQP short strings (names, routing keys, binding keys, table keys, vhost): at most 255 bytes. */
export const MAX_SHORT_STRING_BYTES = 255;

/** RabbitMQ's cap for `x-message-ttl` and `x-expires`: 3650 days, in ms (a larger value is a 406). */
export const MAX_TTL_MS = 315_360_000_000;

/** The prefix RabbitMQ reserves for its own exchanges and queues (declaring one is a 403). */
export const RESERVED_PREFIX = 'amq.';

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** `what` is e.g. `routing key`; undefined when `value` fits in an AMQP short string. */
export function shortStringProblem(what: string, value: string): string | undefined {
  const bytes = utf8Bytes(value);
  if (bytes <= MAX_SHORT_STRING_BYTES) return undefined;
  return `${what} is ${bytes} bytes; RabbitMQ allows at most ${MAX_SHORT_STRING_BYTES} bytes (UTF-8)`;
}

/** Problems of a name warren declares (a file's own or a derived one). */
export function declaredNameProblems(kind: 'exchange' | 'queue', name: string, derived: boolean): string[] {
  const label = `${derived ? 'derived ' : ''}${kind} name "${preview(name)}"`;
  const problems: string[] = [];
  if (name.startsWith(RESERVED_PREFIX)) {
    problems.push(
      `${label} starts with "amq.", which RabbitMQ reserves for its own objects (declaring it is refused)` +
        (kind === 'exchange' && !derived ? '; bind to the built-in amq.* exchanges without declaring them' : ''),
    );
  }
  const tooLong = shortStringProblem(label, name);
  if (tooLong) problems.push(derived ? `${tooLong}: shorten the name it is derived from` : tooLong);
  return problems;
}

export type QueueType = 'classic' | 'quorum';

/** One problem with a queue argument; `key` is the `x-…` argument it is about. */
export interface ArgumentProblem {
  key: string;
  message: string;
}

type Rule = {
  /** Queue types that accept the argument; a missing list means both. */
  only?: QueueType;
  check: (value: ArgumentValue) => string | undefined;
};

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER, maxLabel = String(max)) =>
  (value: ArgumentValue): string | undefined =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? undefined
      : `must be an integer from ${min} to ${maxLabel}`;

const oneOf =
  (...allowed: string[]) =>
  (value: ArgumentValue): string | undefined =>
    typeof value === 'string' && allowed.includes(value) ? undefined : `must be one of ${allowed.join(', ')}`;

const shortString = (value: ArgumentValue): string | undefined =>
  typeof value !== 'string' ? 'must be a string' : shortStringProblem('the value', value);

/**
 * The queue arguments RabbitMQ 3.10 knows, with the queue types that accept
 * them and the values it takes. Arguments not listed pass through unchecked
 * (RabbitMQ ignores unknown ones, and a plugin may define its own).
 */
const QUEUE_ARGUMENTS: Record<string, Rule> = {
  'x-message-ttl': { check: integer(0, MAX_TTL_MS, `${MAX_TTL_MS} (3650 days, in ms)`) },
  'x-expires': { check: integer(1, MAX_TTL_MS, `${MAX_TTL_MS} (3650 days, in ms)`) },
  'x-max-length': { check: integer(0) },
  'x-max-length-bytes': { check: integer(0) },
  'x-dead-letter-exchange': { check: shortString },
  'x-dead-letter-routing-key': { check: shortString },
  'x-single-active-consumer': { check: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false') },
  'x-max-priority': { only: 'classic', check: integer(1, 255) },
  'x-queue-mode': { only: 'classic', check: oneOf('default', 'lazy') },
  'x-queue-version': { only: 'classic', check: (v) => (v === 1 || v === 2 ? undefined : 'must be 1 or 2') },
  // 3.10.8 answers "balanced" here with a 541 INTERNAL_ERROR that closes the whole connection.
  'x-queue-master-locator': { only: 'classic', check: oneOf('min-masters', 'client-local', 'random') },
  'x-queue-leader-locator': { only: 'quorum', check: oneOf('client-local', 'balanced') },
  // 3.10 reads -1 as "no redelivery at all": the first requeue drops the message.
  'x-delivery-limit': { only: 'quorum', check: integer(0) },
  'x-dead-letter-strategy': { only: 'quorum', check: oneOf('at-most-once', 'at-least-once') },
  'x-quorum-initial-group-size': { only: 'quorum', check: integer(1) },
  'x-max-in-memory-length': { only: 'quorum', check: integer(0) },
  'x-max-in-memory-bytes': { only: 'quorum', check: integer(0) },
};

const OVERFLOW: Record<QueueType, string[]> = {
  classic: ['drop-head', 'reject-publish', 'reject-publish-dlx'],
  // reject-publish-dlx is accepted by 3.10 on a quorum queue but not implemented there.
  quorum: ['drop-head', 'reject-publish'],
};

/** Every problem of a queue's final argument table (options and raw arguments merged). */
export function queueArgumentProblems(type: QueueType, args: Readonly<Record<string, ArgumentValue>>): ArgumentProblem[] {
  const problems: ArgumentProblem[] = [];
  const add = (key: string, message: string) => problems.push({ key, message });
  for (const [key, value] of Object.entries(args)) {
    const keyTooLong = shortStringProblem('argument name', key);
    if (keyTooLong) add(key, keyTooLong);
    if (key === 'x-queue-type') {
      if (value !== type) add(key, `x-queue-type ${JSON.stringify(value)} contradicts the queue type ${type}`);
      continue;
    }
    if (key === 'x-overflow') {
      const problem = oneOf(...OVERFLOW[type])(value);
      if (problem) add(key, `x-overflow ${problem} on a ${type} queue`);
      continue;
    }
    const rule = QUEUE_ARGUMENTS[key];
    if (rule === undefined) continue;
    if (rule.only !== undefined && rule.only !== type) {
      add(key, `${key} is for ${rule.only} queues only; RabbitMQ refuses it on a ${type} queue`);
      continue;
    }
    const problem = rule.check(value);
    if (problem) add(key, `${key} ${problem}`);
  }
  if (args['x-dead-letter-routing-key'] !== undefined && args['x-dead-letter-exchange'] === undefined) {
    add('x-dead-letter-routing-key', 'a dead-letter routing key needs a dead-letter exchange (RabbitMQ refuses one without the other)');
  }
  if (args['x-dead-letter-strategy'] === 'at-least-once') {
    // RabbitMQ accepts these but silently falls back to at-most-once.
    if (args['x-overflow'] !== 'reject-publish') {
      add('x-dead-letter-strategy', 'at-least-once dead-lettering needs overflow reject-publish (with drop-head RabbitMQ silently falls back to at-most-once)');
    }
  }
  return problems;
}

/** Binding problems that depend on the source exchange's type; undefined when fine. */
export function bindingKeyProblem(sourceType: string | undefined, routingKey: string): string | undefined {
  if (sourceType !== 'x-consistent-hash') return undefined;
  // The binding key of a consistent-hash exchange is the queue's weight on the ring.
  return /^[1-9]\d*$/.test(routingKey) && Number(routingKey) <= 0xffff_ffff
    ? undefined
    : `a binding to an x-consistent-hash exchange takes a weight as its key (a positive integer such as "1"), not ${JSON.stringify(routingKey)}`;
}

export function bindingArgumentProblems(sourceType: string | undefined, args: Readonly<Record<string, ArgumentValue>>): ArgumentProblem[] {
  const problems: ArgumentProblem[] = [];
  for (const key of Object.keys(args)) {
    const tooLong = shortStringProblem('argument name', key);
    if (tooLong) problems.push({ key, message: tooLong });
  }
  const match = args['x-match'];
  if (sourceType === 'headers' && match !== undefined && !['all', 'any', 'all-with-x', 'any-with-x'].includes(String(match))) {
    problems.push({ key: 'x-match', message: 'x-match must be one of all, any, all-with-x, any-with-x' });
  }
  return problems;
}

export function exchangeArgumentProblems(type: string, args: Readonly<Record<string, ArgumentValue>>): ArgumentProblem[] {
  const problems: ArgumentProblem[] = [];
  for (const key of Object.keys(args)) {
    const tooLong = shortStringProblem('argument name', key);
    if (tooLong) problems.push({ key, message: tooLong });
  }
  const header = args['hash-header'];
  const property = args['hash-property'];
  if ((header !== undefined || property !== undefined) && type !== 'x-consistent-hash') {
    problems.push({ key: header !== undefined ? 'hash-header' : 'hash-property', message: 'hash-header and hash-property are for x-consistent-hash exchanges only' });
  }
  if (header !== undefined && property !== undefined) {
    problems.push({ key: 'hash-property', message: 'hash-header and hash-property are mutually exclusive (RabbitMQ refuses both)' });
  }
  if (property !== undefined && !['message_id', 'correlation_id', 'timestamp'].includes(String(property))) {
    problems.push({ key: 'hash-property', message: 'hash-property must be one of message_id, correlation_id, timestamp' });
  }
  if (header !== undefined) {
    const problem = typeof header === 'string' ? shortStringProblem('hash-header', header) : 'hash-header must be a string';
    if (problem) problems.push({ key: 'hash-header', message: problem });
  }
  return problems;
}

/** Long names shortened for messages, keeping the end, where derived names differ. */
function preview(name: string): string {
  return name.length > 48 ? `${name.slice(0, 20)}…${name.slice(-24)}` : name;
}
