/** Capped exponential backoff with jitter, for re-trying broker operations. Pure. */

export interface BackoffOptions {
  /** The wait before the first retry (before jitter). */
  initialMs: number;
  /** No wait is longer than this. */
  maxMs: number;
}

/**
 * The wait before retry `attempt` (1-based): `min(maxMs, initialMs·2^(attempt-1))`,
 * of which the upper half is random ("equal jitter"). The random half keeps
 * many consumers cancelled at the same moment (a node went down) from
 * coming back in lockstep; the fixed half keeps a refusing broker from being
 * asked again at once.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  const half = ceiling / 2;
  return Math.round(half + half * Math.min(Math.max(random(), 0), 1));
}
