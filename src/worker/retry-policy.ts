import type { ConsumerPlan } from '../topology/plan.ts';

/**
 * Pure retry choice: where a failed attempt goes next. Failed attempt `n`
 * waits `delaysMs[min(n-1, len-1)]`; attempt `maxAttempts` failing ends in
 * the DLQ.
 */

export type RetryDecision =
  | { action: 'retry-tier'; queue: string; delayMs: number; nextAttempt: number }
  | { action: 'retry-in-place'; delayMs: number; nextAttempt: number }
  | { action: 'dead-letter' };

/** The delay after failed attempt `attempt` (1-based). */
export function delayForAttempt(attempt: number, delaysMs: readonly number[]): number {
  if (delaysMs.length === 0) return 0;
  const index = Math.min(Math.max(attempt, 1) - 1, delaysMs.length - 1);
  return delaysMs[index] ?? 0;
}

export function decideRetry(attempt: number, retry: ConsumerPlan['retry'], sharded: boolean): RetryDecision {
  if (attempt >= retry.maxAttempts) return { action: 'dead-letter' };
  const delayMs = delayForAttempt(attempt, retry.delaysMs);
  const nextAttempt = attempt + 1;
  // Sharded consumers have no tier queues: a copy in a delay queue would
  // let later jobs of the same key overtake it.
  if (sharded) return { action: 'retry-in-place', delayMs, nextAttempt };
  const tier = retry.tiers.find((t) => t.delayMs === delayMs);
  if (tier === undefined) return { action: 'retry-in-place', delayMs, nextAttempt };
  return { action: 'retry-tier', queue: tier.queue, delayMs, nextAttempt };
}
