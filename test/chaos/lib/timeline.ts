/**
 * Pure arithmetic on what the chaos run observed: when the producer refused
 * (503) or did not answer at all, and when a consumer had no subscription.
 * Times are epoch milliseconds.
 */

export interface Attempt {
  sentAt: number;
  answeredAt: number;
  /** HTTP status; 0 when there was no answer (connection refused or reset, timeout). */
  status: number;
}

export interface Window {
  start: number;
  end: number;
}

export interface WindowSummary {
  /** How many answers fell in the class. */
  answers: number;
  windows: number;
  totalMs: number;
  longestMs: number;
}

/**
 * The spells during which the producer refused in one way (503, or no
 * answer at all): a spell opens at such an answer and closes at the first
 * answer of another kind to a request *sent after it opened* (an answer to
 * an older request says nothing about the producer now). A spell still open
 * at the end closes at its last refusal.
 */
export function refusalWindows(attempts: readonly Attempt[], refused: (status: number) => boolean): Window[] {
  const windows: Window[] = [];
  let open: Window | undefined;
  for (const attempt of [...attempts].sort((a, b) => a.answeredAt - b.answeredAt)) {
    if (refused(attempt.status)) {
      if (open === undefined) open = { start: attempt.answeredAt, end: attempt.answeredAt };
      else open.end = attempt.answeredAt;
    } else if (open !== undefined && attempt.sentAt >= open.start) {
      windows.push({ start: open.start, end: attempt.answeredAt });
      open = undefined;
    }
  }
  if (open !== undefined) windows.push(open);
  return windows;
}

export function summarizeRefusals(attempts: readonly Attempt[], refused: (status: number) => boolean): WindowSummary {
  return { answers: attempts.filter((a) => refused(a.status)).length, ...summarizeWindows(refusalWindows(attempts, refused)) };
}

export interface Sample {
  at: number;
  /** Every queue of the consumer has a consumer (and answered). */
  subscribed: boolean;
}

/** The spells without a subscription: from the first sample without one to the next sample with one (or the last sample). */
export function unsubscribedWindows(samples: readonly Sample[]): Window[] {
  const windows: Window[] = [];
  let open: Window | undefined;
  for (const sample of [...samples].sort((a, b) => a.at - b.at)) {
    if (!sample.subscribed) {
      if (open === undefined) open = { start: sample.at, end: sample.at };
      else open.end = sample.at;
    } else if (open !== undefined) {
      windows.push({ start: open.start, end: sample.at });
      open = undefined;
    }
  }
  if (open !== undefined) windows.push(open);
  return windows;
}

export function summarizeWindows(windows: readonly Window[]): Omit<WindowSummary, 'answers'> {
  const lengths = windows.map((w) => w.end - w.start);
  return { windows: windows.length, totalMs: lengths.reduce((a, b) => a + b, 0), longestMs: Math.max(0, ...lengths) };
}

export type SpellCause = 'worker-kill' | 'node-loss' | 'other';

/** How soon after its cause a spell must begin to be put down to it (sampling is once a second). */
const CAUSE_SLACK_MS = 5_000;

/**
 * Why a consumer lost its subscription: its worker was SIGKILLed just
 * before; else a node was down (or had just come back: consumers of moved
 * leaders are cancelled then too); else something else (a broker cancel, a
 * worker that could not keep up).
 */
export function causeOf(spell: Window, workerKills: readonly number[], nodeDown: readonly Window[]): SpellCause {
  if (workerKills.some((t) => t <= spell.start && spell.start - t <= CAUSE_SLACK_MS)) return 'worker-kill';
  if (nodeDown.some((w) => spell.start >= w.start && spell.start <= w.end + CAUSE_SLACK_MS)) return 'node-loss';
  return 'other';
}
