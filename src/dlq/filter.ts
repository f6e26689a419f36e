import { parseDuration } from '../duration.ts';
import type { DeadLetterView } from './dead-letter.ts';
import { DlqInputError } from './errors.ts';
import type { Headers } from '../message/headers.ts';

/**
 * Pure: `--filter KEY=VALUE` / `KEY~=REGEX` and `--since` / `--until`
 * parsed once into a predicate. Every filter must match (AND). Keys:
 * `jobType`, `error` (error class or message; `=` is a substring match),
 * `id`, and `header.<name>` (the header's value as text). Bad syntax throws
 * `DlqInputError` before anything touches the broker.
 */

export type FilterKey = 'jobType' | 'error' | 'id' | { header: string };

export interface FieldFilter {
  key: FilterKey;
  /** `=`: exact (substring for `error`); `~=`: regular expression. */
  match: { kind: 'equals'; value: string } | { kind: 'regex'; pattern: RegExp };
}

export interface Selection {
  fields: FieldFilter[];
  /** Failure time bounds in epoch ms: since inclusive, until exclusive. */
  sinceMs?: number;
  untilMs?: number;
}

export interface SelectionInput {
  filters?: readonly string[];
  since?: string;
  until?: string;
}

const FILTER_SYNTAX = /^([A-Za-z][\w.-]*?)(~=|=)(.*)$/s;

export function parseSelection(input: SelectionInput, now: Date = new Date()): Selection {
  const selection: Selection = { fields: (input.filters ?? []).map(parseFilter) };
  if (input.since !== undefined) selection.sinceMs = parseTime(input.since, now, '--since');
  if (input.until !== undefined) selection.untilMs = parseTime(input.until, now, '--until');
  if (selection.sinceMs !== undefined && selection.untilMs !== undefined && selection.sinceMs >= selection.untilMs) {
    throw new DlqInputError('--since must be earlier than --until');
  }
  return selection;
}

export function parseFilter(text: string): FieldFilter {
  const match = FILTER_SYNTAX.exec(text);
  if (!match) throw new DlqInputError(`bad filter "${text}": expected KEY=VALUE or KEY~=REGEX (keys: jobType, error, id, header.<name>)`);
  const [, rawKey = '', operator, value = ''] = match;
  const key = parseKey(rawKey, text);
  if (operator === '=') return { key, match: { kind: 'equals', value } };
  try {
    return { key, match: { kind: 'regex', pattern: new RegExp(value) } };
  } catch (error) {
    throw new DlqInputError(`bad filter "${text}": invalid regular expression (${(error as Error).message})`);
  }
}

/** `2024-05-01T10:00:00Z` (any date Date.parse accepts) or a duration ago (`30m`, `2h`, `1d`). */
export function parseTime(text: string, now: Date, flag: string): number {
  const ago = parseDuration(text);
  if (ago !== undefined) return now.getTime() - ago;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const time = Date.parse(text);
    if (!Number.isNaN(time)) return time;
  }
  throw new DlqInputError(`bad ${flag} "${text}": expected an ISO time (2024-05-01T10:00:00Z) or a duration ago (30m, 2h, 1d)`);
}

export function isEmptySelection(selection: Selection): boolean {
  return selection.fields.length === 0 && selection.sinceMs === undefined && selection.untilMs === undefined;
}

export function matchesSelection(selection: Selection, view: DeadLetterView, headers: Headers | undefined): boolean {
  if (!selection.fields.every((filter) => matchesField(filter, view, headers ?? {}))) return false;
  if (selection.sinceMs === undefined && selection.untilMs === undefined) return true;
  const failedAt = Date.parse(view.failedAt ?? view.firstFailedAt ?? '');
  if (Number.isNaN(failedAt)) return false;
  if (selection.sinceMs !== undefined && failedAt < selection.sinceMs) return false;
  if (selection.untilMs !== undefined && failedAt >= selection.untilMs) return false;
  return true;
}

function matchesField(filter: FieldFilter, view: DeadLetterView, headers: Headers): boolean {
  const candidates = valuesOf(filter.key, view, headers);
  const { match } = filter;
  if (match.kind === 'regex') return candidates.some((value) => match.pattern.test(value));
  if (filter.key === 'error') return candidates.some((value) => value.includes(match.value));
  return candidates.some((value) => value === match.value);
}

function valuesOf(key: FilterKey, view: DeadLetterView, headers: Headers): string[] {
  if (key === 'jobType') return view.jobType === null ? [] : [view.jobType];
  if (key === 'id') return view.id === null ? [] : [view.id];
  if (key === 'error') return [view.error.class, view.error.message, `${view.error.class}: ${view.error.message}`];
  const value = headers[key.header];
  if (value === undefined || value === null) return [];
  if (Buffer.isBuffer(value)) return [value.toString('utf8')];
  return [typeof value === 'object' ? JSON.stringify(value) : String(value)];
}

function parseKey(raw: string, text: string): FilterKey {
  if (raw === 'jobType' || raw === 'error' || raw === 'id') return raw;
  if (raw.startsWith('header.') && raw.length > 'header.'.length) return { header: raw.slice('header.'.length) };
  throw new DlqInputError(`bad filter "${text}": unknown key "${raw}" (keys: jobType, error, id, header.<name>)`);
}
