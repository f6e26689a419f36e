import { Cron } from 'croner';

/**
 * Pure: when a schedule ticks. A rule is a cron expression in a time zone
 * (croner does the calendar arithmetic, DST included) or a fixed interval
 * aligned to the Unix epoch — so every replica, whenever it started,
 * computes the same tick times and therefore the same job ids.
 */

export type TickRule = { kind: 'cron'; expression: string; timezone: string } | { kind: 'every'; everyMs: number };

export type MissedPolicy = 'skip' | 'catch-up';

/** One tick of one schedule and its job id. */
export interface TickRow {
  schedule: string;
  tick: Date;
  jobId: string;
}

/** Why croner refuses an expression, or undefined when it is fine. */
export function cronProblem(expression: string): string | undefined {
  try {
    const cron = new Cron(expression, { paused: true, mode: '5-or-6-parts' });
    // An expression that can never fire (e.g. 30 February) is refused too.
    if (cron.nextRun(new Date(0)) === null) return `cron expression "${expression}" never fires`;
    return undefined;
  } catch (error) {
    return `invalid cron expression "${expression}": ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Why a time zone is not an IANA name this runtime knows, or undefined. */
export function timeZoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    return `unknown time zone "${timezone}" (use an IANA name such as Europe/Paris or UTC)`;
  }
}

const crons = new Map<string, Cron>();
function cronOf(rule: Extract<TickRule, { kind: 'cron' }>): Cron {
  const key = `${rule.timezone}\u0000${rule.expression}`;
  let cron = crons.get(key);
  if (cron === undefined) {
    cron = new Cron(rule.expression, { paused: true, mode: '5-or-6-parts', timezone: rule.timezone });
    crons.set(key, cron);
  }
  return cron;
}

/** The first tick strictly after `after`, or undefined when the rule never fires again. */
export function nextTick(rule: TickRule, after: Date): Date | undefined {
  if (rule.kind === 'every') return new Date((Math.floor(after.getTime() / rule.everyMs) + 1) * rule.everyMs);
  return cronOf(rule).nextRun(after) ?? undefined;
}

/** The `n` latest ticks strictly before `before`, oldest first. */
function previousTicks(rule: TickRule, n: number, before: Date): Date[] {
  if (n <= 0) return [];
  if (rule.kind === 'every') {
    const last = Math.ceil(before.getTime() / rule.everyMs) - 1;
    const ticks: Date[] = [];
    for (let i = Math.max(0, last - n + 1); i <= last; i++) ticks.push(new Date(i * rule.everyMs));
    return ticks;
  }
  return cronOf(rule).previousRuns(n, before).reverse();
}

export interface DueInput {
  rule: TickRule;
  /** The last tick already handled (or the moment the schedule was first seen): only later ticks are due. */
  cursor: Date;
  now: Date;
  missed: MissedPolicy;
  /** catch-up: at most this many missed ticks, the most recent ones. */
  catchUpLimit: number;
  /** A tick at most this late is on time (enqueued late, never "missed"). */
  graceMs: number;
}

export interface DueTicks {
  /** To enqueue, oldest first. */
  ticks: Date[];
  /** Missed ticks that are not enqueued (the policy, or the catch-up bound). Counted up to `MAX_COUNTED_SKIPS`. */
  skipped: number;
  /** Where the cursor goes once `ticks` are handled (past the skipped ones too). */
  cursor: Date;
}

/** Cron ticks are counted one by one; past this a skip count says "at least". */
export const MAX_COUNTED_SKIPS = 10_000;

/**
 * Ticks in (cursor, now]. Those at most `graceMs` old are due whatever the
 * policy. Older ones are missed: `skip` drops them all, `catch-up` keeps the
 * latest `catchUpLimit`. Never more than `catchUpLimit` + the ticks of one
 * grace period, however long everything was down.
 */
export function dueTicks(input: DueInput): DueTicks {
  const { rule, cursor, now } = input;
  if (now.getTime() <= cursor.getTime()) return { ticks: [], skipped: 0, cursor };
  const graceStart = new Date(Math.max(cursor.getTime(), now.getTime() - input.graceMs));
  // Missed: ticks in (cursor, graceStart]; on time: (graceStart, now].
  const onTime: Date[] = [];
  for (let tick = nextTick(rule, graceStart); tick !== undefined && tick.getTime() <= now.getTime(); tick = nextTick(rule, tick)) {
    onTime.push(tick);
  }
  let missedTicks: Date[] = [];
  let missedCount = 0;
  if (graceStart.getTime() > cursor.getTime()) {
    missedCount = countTicks(rule, cursor, graceStart);
    if (input.missed === 'catch-up') {
      // previousTicks is strictly before its bound; a tick exactly at graceStart is missed too.
      const bound = new Date(graceStart.getTime() + 1);
      missedTicks = previousTicks(rule, Math.min(input.catchUpLimit, missedCount), bound).filter((t) => t.getTime() > cursor.getTime());
    }
  }
  const ticks = [...missedTicks, ...onTime];
  const last = ticks.at(-1);
  const advanced = last ?? graceStart;
  return { ticks, skipped: missedCount - missedTicks.length, cursor: advanced.getTime() > cursor.getTime() ? advanced : cursor };
}

/** Ticks in (from, to], counted up to MAX_COUNTED_SKIPS for cron. */
function countTicks(rule: TickRule, from: Date, to: Date): number {
  if (rule.kind === 'every') return Math.floor(to.getTime() / rule.everyMs) - Math.floor(from.getTime() / rule.everyMs);
  let count = 0;
  for (let tick = nextTick(rule, from); tick !== undefined && tick.getTime() <= to.getTime() && count < MAX_COUNTED_SKIPS; tick = nextTick(rule, tick)) {
    count++;
  }
  return count;
}

/** The deterministic job id of one tick: every replica, and every retry of it, publishes this id. */
export function tickJobId(schedule: string, tick: Date): string {
  return `schedule:${schedule}:${tick.toISOString()}`;
}
