import type { z } from 'zod';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { buildJobMessage, ID_MAX_LENGTH, isValidId } from './job-message.ts';
import { InvalidOrderingKeyError, orderingKeyOf, type JobType } from './job-types.ts';
import { InvalidJobOptionError, InvalidJobPayloadError, type PayloadIssue } from './errors.ts';

/**
 * Pure: one job as a caller hands it over → the AMQP message of DESIGN.md's
 * conventions, or a typed error saying why not. The job client and the
 * HTTP producer both go through here, so a payload, an id or a header is
 * judged the same way whichever door it came in by.
 */

/** Values a caller may put in a job's own headers. */
export type JobHeaderValue = string | number | boolean;

export interface PreparedJob {
  message: OutgoingMessage;
  /** The ordering key read from the payload, when the job type has one. */
  orderingKey: string | undefined;
}

export interface JobInput {
  payload: unknown;
  id: string;
  correlationId: string | undefined;
  headers: Readonly<Record<string, JobHeaderValue>> | undefined;
  now: Date;
}

/** Validate → ordering key → message. Throws `InvalidJobPayloadError`. */
export function prepareJob(jobType: JobType, input: JobInput): PreparedJob {
  const parsed = jobType.validator.safeParse(input.payload);
  if (!parsed.success) {
    throw new InvalidJobPayloadError('the payload does not match the job type schema', issuesOf(parsed.error.issues));
  }
  let orderingKey: string | undefined;
  try {
    orderingKey = orderingKeyOf(jobType, input.payload);
  } catch (error) {
    if (!(error instanceof InvalidOrderingKeyError)) throw error;
    throw new InvalidJobPayloadError(error.message, [{ path: error.path.split('.'), message: error.message }]);
  }
  const message = buildJobMessage({
    jobType,
    payload: input.payload,
    id: input.id,
    orderingKey,
    correlationId: input.correlationId,
    now: input.now,
  });
  if (input.headers !== undefined && Object.keys(input.headers).length > 0) {
    // warren's own headers last: a caller's header never replaces one (and
    // `checkHeaders` already refused the x-warren- prefix).
    message.options.headers = { ...input.headers, ...message.options.headers };
  }
  return { message, orderingKey };
}

function issuesOf(issues: readonly z.core.$ZodIssue[]): PayloadIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: issue.message,
  }));
}

/** An idempotency key or correlation id as given: `undefined` when absent, else checked. */
export function checkToken(option: 'idempotencyKey' | 'correlationId', value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!isValidId(value)) throw new InvalidJobOptionError(option, `${option} must be 1 to ${ID_MAX_LENGTH} visible ASCII characters`);
  return value;
}

const HEADER_NAME = /^[\x21-\x7e]{1,128}$/;
const RESERVED_PREFIX = 'x-warren-';
const MAX_HEADERS = 64;
const MAX_HEADER_VALUE = 8_192;

/**
 * A caller's own headers: a plain object of at most 64 names (visible ASCII,
 * not `x-warren-*`, which carry warren's conventions) to strings of at most
 * 8 KiB, finite numbers or booleans.
 */
export function checkHeaders(value: unknown): Readonly<Record<string, JobHeaderValue>> | undefined {
  if (value === undefined) return undefined;
  const fail = (message: string) => new InvalidJobOptionError('headers', message);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('headers must be an object of name → value');
  const entries = Object.entries(value);
  if (entries.length > MAX_HEADERS) throw fail(`at most ${MAX_HEADERS} headers`);
  for (const [name, headerValue] of entries) {
    if (!HEADER_NAME.test(name)) throw fail(`header name ${JSON.stringify(name)} must be 1 to 128 visible ASCII characters`);
    if (name.toLowerCase().startsWith(RESERVED_PREFIX)) throw fail(`header "${name}": the ${RESERVED_PREFIX} prefix is warren's own`);
    const ok =
      (typeof headerValue === 'string' && headerValue.length <= MAX_HEADER_VALUE) ||
      (typeof headerValue === 'number' && Number.isFinite(headerValue)) ||
      typeof headerValue === 'boolean';
    if (!ok) throw fail(`header "${name}" must be a string (at most ${MAX_HEADER_VALUE} characters), a finite number or a boolean`);
  }
  return value as Record<string, JobHeaderValue>;
}
