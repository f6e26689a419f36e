/** Pure formatting: numbers, rates, relative times. No DOM. */

const INTEGER = new Intl.NumberFormat('en-US');
const COMPACT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** 1234567 → "1,234,567". */
export function formatCount(value: number): string {
  return INTEGER.format(value);
}

/** Messages per second: "—" when not sampled, "0/s", "0.4/s", "1,250/s". */
export function formatRate(value: number | null): string {
  if (value === null) return '—';
  if (value === 0) return '0/s';
  return `${value < 10 ? COMPACT.format(value) : INTEGER.format(Math.round(value))}/s`;
}

/** A time relative to `now`: "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago" (and "in …" for the future). */
export function formatRelative(time: number, now: number): string {
  const seconds = Math.round((now - time) / 1000);
  const ahead = seconds < 0;
  const s = Math.abs(seconds);
  if (s < 5) return 'just now';
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86_400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86_400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

/** The absolute time shown on hover: "2024-05-01 10:00:02 UTC". */
export function formatAbsolute(time: number): string {
  return `${new Date(time).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`;
}

/** JSON text pretty-printed when it parses, else as it is. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
