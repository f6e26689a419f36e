import { parseDuration } from '../duration.ts';

/**
 * Pure: where `warren stream reset --to …` puts a group.
 * - `first`: every retained record is read again;
 * - `last`: everything already in the partition is skipped;
 * - `<offset>` (digits): read again from that offset on;
 * - an ISO time (`2026-11-30T08:00:00Z`) or a duration ago (`2h ago`, `2h`,
 *   `30m`): read again from the first record published at or after it.
 */
export type ResetTarget = { kind: 'first' } | { kind: 'last' } | { kind: 'offset'; offset: number } | { kind: 'time'; at: Date };

export class ResetTargetError extends Error {}

export function parseResetTarget(text: string, now: Date): ResetTarget {
  const value = text.trim();
  if (value === 'first' || value === 'last') return { kind: value };
  if (/^\d+$/.test(value)) {
    const offset = Number(value);
    if (!Number.isSafeInteger(offset)) throw new ResetTargetError(`offset ${value} is too large`);
    return { kind: 'offset', offset };
  }
  const ago = /^(.+?)\s+ago$/.exec(value)?.[1] ?? value;
  const duration = parseDuration(ago);
  if (duration !== undefined) return { kind: 'time', at: new Date(now.getTime() - duration) };
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return { kind: 'time', at: new Date(at) };
  }
  throw new ResetTargetError(
    `bad --to ${JSON.stringify(value.slice(0, 80))}: expected first, last, an offset (digits), an ISO time (2026-11-30T08:00:00Z) or a duration ago (2h ago, 30m)`,
  );
}

/**
 * The committed offset (last record applied) that makes a group read again
 * from `restartOffset`: one before it. -1 means "before everything"; the
 * worker then starts at `first`.
 */
export function committedBefore(restartOffset: number): number {
  return Math.max(-1, restartOffset - 1);
}
