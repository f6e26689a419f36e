import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { parseDuration } from '../duration.ts';
import { delayPath, MAX_DELAY_MS, type DelayPath } from '../delay/levels.ts';
import { HEADERS } from '../message/headers.ts';
import { InvalidJobOptionError } from './errors.ts';
import type { JobType } from './job-types.ts';

/**
 * Pure: the `delay` / `runAt` / `priority` options of an enqueue, checked
 * against the job type, and what they change on the message. Shared by the
 * job client and the HTTP producer (through `JobSender`).
 */

export interface JobTiming {
  /** The due time asked for. */
  runAt: Date;
  path: DelayPath;
}

/** The delay of an enqueue: `undefined` for a job due at once. */
export function checkTiming(jobType: JobType, delay: unknown, runAt: unknown, now: Date): JobTiming | undefined {
  if (delay !== undefined && runAt !== undefined) throw new InvalidJobOptionError('delay', 'give either a delay or a run-at time, not both');
  let delayMs: number;
  if (delay !== undefined) {
    const ms = typeof delay === 'number' || typeof delay === 'string' ? parseDuration(delay) : undefined;
    if (ms === undefined) {
      throw new InvalidJobOptionError('delay', 'the delay must be a whole number of ms ≥ 0 or a duration such as 500ms, 30s, 2h, 1d');
    }
    delayMs = ms;
  } else if (runAt !== undefined) {
    const at = runAt instanceof Date ? runAt.getTime() : typeof runAt === 'string' && ISO_TIME.test(runAt) ? Date.parse(runAt) : Number.NaN;
    if (Number.isNaN(at)) throw new InvalidJobOptionError('runAt', 'the run-at time must be an ISO 8601 date-time with a time zone, e.g. 2030-01-31T09:00:00Z');
    delayMs = at - now.getTime();
  } else {
    return undefined;
  }
  if (delayMs <= 0) return undefined;
  const option = delay !== undefined ? 'delay' : 'runAt';
  if (!jobType.delays) {
    throw new InvalidJobOptionError(option, `job type "${jobType.type}" takes no delays: set \`delays: true\` on it in the topology`);
  }
  if (delayMs > MAX_DELAY_MS) {
    throw new InvalidJobOptionError(option, `a job can be delayed at most ${Math.floor(MAX_DELAY_MS / 86_400_000)} days (${MAX_DELAY_MS} ms)`);
  }
  return { runAt: new Date(now.getTime() + delayMs), path: delayPath(delayMs, jobType.type) };
}

/** An ISO 8601 date-time with a zone (`Z` or `±hh:mm`): a time without one would depend on the server's zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** The priority of an enqueue: the option, else the job type's default; `undefined` for none. */
export function checkPriority(jobType: JobType, priority: unknown): number | undefined {
  if (priority === undefined) return jobType.priority?.default;
  if (jobType.priority === undefined) {
    throw new InvalidJobOptionError('priority', `job type "${jobType.type}" has no priorities: declare priority: { max: N } on it in the topology`);
  }
  const value = typeof priority === 'string' && /^\d{1,3}$/.test(priority) ? Number(priority) : priority;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > jobType.priority.max) {
    throw new InvalidJobOptionError('priority', `the priority of a "${jobType.type}" job is a whole number from 0 to ${jobType.priority.max}`);
  }
  return value;
}

/**
 * The message that waits out `timing` in the delay levels: the same job
 * (id, properties, every header), published to the first level it needs,
 * plus the due time in `x-warren-run-at`. Its `timestamp` property becomes
 * the due time: consumer lag is read from the timestamp of the message at
 * a queue's head, and a job is not late while it is not due (the enqueue
 * time stays in `x-warren-first-seen-at`). Changes `message` in place.
 */
export function applyTiming(message: OutgoingMessage, timing: JobTiming | undefined, priority: number | undefined): OutgoingMessage {
  if (priority !== undefined) message.options.priority = priority;
  if (timing === undefined) return message;
  message.exchange = timing.path.exchange;
  message.routingKey = timing.path.routingKey;
  message.options.headers = { ...message.options.headers, [HEADERS.runAt]: timing.runAt.toISOString() };
  message.options.timestamp = Math.floor(timing.runAt.getTime() / 1000);
  return message;
}
