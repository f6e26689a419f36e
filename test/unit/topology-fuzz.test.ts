import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.ts';

const reference = readFileSync('topology/orders.yaml', 'utf8');

/** Every issue must point inside the text: a line that exists, a column on it (or just past its end). */
function expectPositionsInside(text: string, result: ReturnType<typeof parseTopology>): void {
  if (result.ok) return;
  expect(result.issues.length).toBeGreaterThan(0);
  const lines = text.split(/\r\n|\r|\n/);
  for (const issue of result.issues) {
    expect(issue.file).toBe('fuzz.yaml');
    expect(issue.line).toBeGreaterThanOrEqual(1);
    expect(issue.line).toBeLessThanOrEqual(Math.max(lines.length, 1));
    expect(issue.col).toBeGreaterThanOrEqual(1);
    expect(issue.col).toBeLessThanOrEqual((lines[issue.line - 1]?.length ?? 0) + 1);
  }
}

/** A mutation of the reference file: replace, delete or insert a slice of characters. */
const mutation = fc.tuple(
  fc.nat({ max: reference.length }),
  fc.nat({ max: 40 }),
  fc.constantFrom('', ' ', '\n', ':', '- ', '{', '}', '[', '"', '10x', 'type: nope', '&a', '*a', '\t', 'exchange: ghost', '?'),
);

describe('parseTopology never crashes (fast-check)', () => {
  it('on random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        expectPositionsInside(text, parseTopology(text, 'fuzz.yaml'));
      }),
      { numRuns: 200 },
    );
  });

  it('on mutations of the reference file', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = reference;
        for (const [at, length, insert] of edits) text = text.slice(0, at) + insert + text.slice(at + length);
        expectPositionsInside(text, parseTopology(text, 'fuzz.yaml'));
      }),
      { numRuns: 200 },
    );
  });

  it('on random YAML-shaped trees', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('type', 'exchange', 'source', 'shards', 'retry', 'delays', 'queues', 'x'), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    const file = fc.record(
      { exchanges: fc.dictionary(fc.string({ maxLength: 6 }), value), consumers: fc.dictionary(fc.string({ maxLength: 6 }), value) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(file, (tree) => {
        const text = JSON.stringify(tree, null, 1);
        expectPositionsInside(text, parseTopology(text, 'fuzz.yaml'));
      }),
      { numRuns: 200 },
    );
  });
});
