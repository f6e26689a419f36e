/**
 * Durations in the topology file: `250ms`, `10s`, `1m`, `2h`, `1d`, or a
 * plain number of milliseconds. Pure; used by the schema and for the
 * predictable labels of retry tiers (`<consumer>.retry.10s`).
 */
const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

/** A duration string; also published in the JSON Schema so editors flag `10x`. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Milliseconds for a duration string or number, or undefined if it is not one. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') {
    return Number.isInteger(input) && input >= 0 ? input : undefined;
  }
  const match = DURATION_PATTERN.exec(input.trim());
  if (!match) return undefined;
  const factor = UNITS.find(([unit]) => unit === match[2])?.[1] ?? 1;
  const ms = Number(match[1]) * factor;
  return Number.isInteger(ms) ? ms : undefined;
}

/** The shortest exact label for a duration: 10000 → `10s`, 90000 → `90s`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of UNITS) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}
