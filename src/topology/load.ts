import { readFile } from 'node:fs/promises';
import { isMap, isNode, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { TopologyError, type TopologyIssue } from '../errors.ts';
import { schedulePayloadIssues } from '../schedules/payload-check.ts';
import { compileTopology } from './compile.ts';
import type { TopologyPlan } from './plan.ts';
import { TopologyFile } from './schema.ts';

export interface LoadedTopology {
  file: string;
  topology: TopologyFile;
  plan: TopologyPlan;
}

export type ParseResult = { ok: true; value: LoadedTopology } | { ok: false; issues: TopologyIssue[] };

/**
 * Pure: text → validated file → compiled plan, or every problem found with
 * its `file:line:col`. JSON is YAML, so one parser gives positions for both.
 */
export function parseTopology(text: string, file: string): ParseResult {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const position = positionIn(text);
  const at = (offset: number, message: string): TopologyIssue => ({ file, ...position(offset), message });
  if (doc.errors.length > 0) {
    // After the first syntax error the parser mostly reports its own confusion.
    const first = doc.errors.slice(0, MAX_SYNTAX_ERRORS);
    return { ok: false, issues: first.map((e) => at(e.pos[0], cleanYamlMessage(e.message))) };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (error) {
    // e.g. an alias bomb: the document is well-formed but not a usable tree.
    return { ok: false, issues: [at(0, cleanYamlMessage((error as Error).message))] };
  }
  const parsed = TopologyFile.safeParse(data);
  if (!parsed.success) {
    return { ok: false, issues: sortIssues(parsed.error.issues.map((i) => zodIssue(doc, i, at))) };
  }
  const compiled = compileTopology(parsed.data);
  const issues = compiled.ok ? schedulePayloadIssues(compiled.plan) : compiled.issues;
  if (!compiled.ok || issues.length > 0) {
    return {
      ok: false,
      issues: sortIssues(
        issues.map((i) => {
          const offset = i.atKey ? offsetOfKey(doc, i.path.slice(0, -1), String(i.path.at(-1) ?? '')) : offsetOf(doc, i.path);
          return at(offset, `${i.path.join('.')}: ${i.message}`);
        }),
      ),
    };
  }
  return { ok: true, value: { file, topology: parsed.data, plan: compiled.plan } };
}

/** Reads and parses a topology file; throws `TopologyError` listing every issue. */
export async function loadTopology(file: string): Promise<LoadedTopology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new TopologyError([{ file, line: 1, col: 1, message: reason }]);
  }
  const result = parseTopology(text, file);
  if (!result.ok) throw new TopologyError(result.issues);
  return result.value;
}

function zodIssue(
  doc: Document,
  issue: z.core.$ZodIssue,
  at: (offset: number, message: string) => TopologyIssue,
): TopologyIssue {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const where = path.length > 0 ? `${path.join('.')}: ` : '';
  if (issue.code === 'invalid_key') {
    // A bad name in a map of names (e.g. an exchange called `a b`): point at the name, say what is wrong with it.
    const reasons = issue.issues.map((inner) => inner.message).join('; ');
    return at(offsetOfKey(doc, path.slice(0, -1), String(path.at(-1) ?? '')), `${where}invalid name: ${reasons}`);
  }
  // An unknown key is reported where the key is written, not at its parent.
  const offset = keys.length > 0 ? offsetOfKey(doc, path, keys[0] ?? '') : offsetOf(doc, path);
  return at(offset, `${where}${issue.message}`);
}

/** Offset of the deepest node along `path` that exists in the document. */
function offsetOf(doc: Document, path: (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return node.range[0];
    const key = depth > 0 ? keyNode(doc, path.slice(0, depth - 1), path[depth - 1]) : undefined;
    if (key?.range) return key.range[0];
  }
  return 0;
}

function offsetOfKey(doc: Document, parent: (string | number)[], key: string): number {
  return keyNode(doc, parent, key)?.range?.[0] ?? offsetOf(doc, parent);
}

function keyNode(doc: Document, parent: (string | number)[], key: string | number | undefined): Node | undefined {
  const container = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (isMap(container)) {
    const pair = container.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
    return isNode(pair?.key) ? pair.key : undefined;
  }
  if (isSeq(container) && typeof key === 'number') {
    const item = container.items[key];
    return isNode(item) ? item : undefined;
  }
  return undefined;
}

const MAX_SYNTAX_ERRORS = 5;

/**
 * Offset → 1-based line and column. Computed from the text itself: the yaml
 * LineCounter misses line breaks inside tokens while recovering from syntax
 * errors, which drifts every later position.
 */
function positionIn(text: string): (offset: number) => { line: number; col: number } {
  const starts = [0];
  for (const match of text.matchAll(/\r\n|\r|\n/g)) starts.push(match.index + match[0].length);
  return (offset) => {
    const clamped = Math.max(0, Math.min(offset, text.length));
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if ((starts[mid] ?? 0) <= clamped) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, col: clamped - (starts[low] ?? 0) + 1 };
  };
}

function cleanYamlMessage(message: string): string {
  const first = message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
  return first.startsWith('Map keys must be unique') ? 'duplicate name: this key is already defined above in the same map' : first;
}

function sortIssues(issues: TopologyIssue[]): TopologyIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}
