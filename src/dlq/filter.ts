import { RE2JS } from 're2js';
import { parseDuration } from '../duration.ts';
import { clipText } from './bounds.ts';
import type { DeadLetterView } from './dead-letter.ts';
import { DlqInputError } from './errors.ts';
import type { Headers } from '../message/headers.ts';

/**
 * Pure: `--filter KEY=VALUE` / `KEY~=REGEX` and `--since` / `--until`
 * parsed once into a predicate. Every filter must match (AND). Keys:
 * `jobType`, `error` (error class or message; `=` is a substring match),
 * `id`, and `header.<name>` (the header's value as text). Bad syntax throws
 * `DlqInputError` before anything touches the broker.
 *
 * `~=` patterns run on RE2 (the pure-JS port `re2js`): RE2 syntax, matched
 * in time linear in the text, never by backtracking — `^(a+)+$` over a
 * thousand dead letters is as cheap as `^a+$`, so a filter cannot freeze the
 * producer that runs it. Patterns are bounded in length and program size.
 */

/** A compiled `~=` pattern: only `test` is used, so any linear-time engine fits. */
export interface FilterPattern {
  test(text: string): boolean;
  /** Size of the compiled program: the per-character cost of `test`. */
  programSize(): number;
}

/** Longest `~=` pattern, in characters. */
export const MAX_PATTERN_CHARS = 256;
/**
 * Largest compiled RE2 program, all `~=` filters of a selection together
 * (about one instruction per character and repeated item: `a{400}` is
 * ~400). Linear time is linear in text × program: measured here, the
 * slowest 500-instruction patterns take ~5 ms over 2,000 characters, so one
 * message never holds the event loop for long.
 */
export const MAX_PATTERN_PROGRAM = 500;
/** A `~=` pattern looks at the first this many characters of a value (warren's error messages are at most 2,000). */
export const MAX_MATCHED_CHARS = 2_048;
/** Longest filter (`KEY=VALUE`), in characters. */
export const MAX_FILTER_CHARS = 1_024;
/** Filters in one command or request. */
export const MAX_FILTERS = 16;

export type FilterKey = 'jobType' | 'error' | 'id' | { header: string };

export interface FieldFilter {
  key: FilterKey;
  /** `=`: exact (substring for `error`); `~=`: regular expression. */
  match: { kind: 'equals'; value: string } | { kind: 'regex'; pattern: FilterPattern };
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
  if ((input.filters?.length ?? 0) > MAX_FILTERS) throw new DlqInputError(`too many filters: at most ${MAX_FILTERS}`);
  const selection: Selection = { fields: (input.filters ?? []).map(parseFilter) };
  const program = selection.fields.reduce((sum, field) => sum + (field.match.kind === 'regex' ? field.match.pattern.programSize() : 0), 0);
  if (program > MAX_PATTERN_PROGRAM) {
    throw new DlqInputError(`the regular expressions of these filters are too large together (RE2 programs of ${program} > ${MAX_PATTERN_PROGRAM} instructions)`);
  }
  if (input.since !== undefined) selection.sinceMs = parseTime(input.since, now, '--since');
  if (input.until !== undefined) selection.untilMs = parseTime(input.until, now, '--until');
  if (selection.sinceMs !== undefined && selection.untilMs !== undefined && selection.sinceMs >= selection.untilMs) {
    throw new DlqInputError('--since must be earlier than --until');
  }
  return selection;
}

export function parseFilter(text: string): FieldFilter {
  const shown = JSON.stringify(clipText(text, 120));
  if (text.length > MAX_FILTER_CHARS) throw new DlqInputError(`bad filter ${shown}: longer than ${MAX_FILTER_CHARS} characters`);
  const match = FILTER_SYNTAX.exec(text);
  if (!match) throw new DlqInputError(`bad filter ${shown}: expected KEY=VALUE or KEY~=REGEX (keys: jobType, error, id, header.<name>)`);
  const [, rawKey = '', operator, value = ''] = match;
  const key = parseKey(rawKey, shown);
  if (operator === '=') return { key, match: { kind: 'equals', value } };
  return { key, match: { kind: 'regex', pattern: compilePattern(value, shown) } };
}

/** An RE2 pattern, or a `DlqInputError` naming what is wrong with it. */
export function compilePattern(pattern: string, shown = JSON.stringify(clipText(pattern, 120))): FilterPattern {
  if (pattern.length > MAX_PATTERN_CHARS) {
    throw new DlqInputError(`bad filter ${shown}: the regular expression is longer than ${MAX_PATTERN_CHARS} characters`);
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (error) {
    const reason = clipText(error instanceof Error ? error.message : String(error), 200);
    throw new DlqInputError(`bad filter ${shown}: invalid regular expression (RE2 syntax: ${reason})`);
  }
  if (compiled.programSize() > MAX_PATTERN_PROGRAM) {
    throw new DlqInputError(`bad filter ${shown}: the regular expression is too large (RE2 program of ${compiled.programSize()} > ${MAX_PATTERN_PROGRAM} instructions)`);
  }
  return compiled;
}

/** `2024-05-01T10:00:00Z` (any date Date.parse accepts) or a duration ago (`30m`, `2h`, `1d`). */
export function parseTime(text: string, now: Date, flag: string): number {
  const ago = parseDuration(text);
  if (ago !== undefined) return now.getTime() - ago;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const time = Date.parse(text);
    if (!Number.isNaN(time)) return time;
  }
  throw new DlqInputError(`bad ${flag} ${JSON.stringify(clipText(text, 80))}: expected an ISO time (2024-05-01T10:00:00Z) or a duration ago (30m, 2h, 1d)`);
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
  if (match.kind === 'regex') return candidates.some((value) => match.pattern.test(value.length > MAX_MATCHED_CHARS ? value.slice(0, MAX_MATCHED_CHARS) : value));
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

function parseKey(raw: string, shown: string): FilterKey {
  if (raw === 'jobType' || raw === 'error' || raw === 'id') return raw;
  if (raw.startsWith('header.') && raw.length > 'header.'.length) return { header: raw.slice('header.'.length) };
  throw new DlqInputError(`bad filter ${shown}: unknown key ${JSON.stringify(clipText(raw, 80))} (keys: jobType, error, id, header.<name>)`);
}
