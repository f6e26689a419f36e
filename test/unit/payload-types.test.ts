import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Type tests for the generated payload types: each fixture under
 * test/fixtures/types marks the lines that must NOT compile (a wrong payload
 * to `enqueue`, a wrong field in a handler) with `expect-error TSxxxx`. The
 * test compiles the fixture with the project's compiler options and checks
 * that exactly those lines fail, with exactly those errors.
 */
const MARKER = /\/\/ expect-error (TS\d+)/;

function compile(file: string): { expected: Map<number, string>; actual: Map<number, string[]> } {
  const config = ts.readConfigFile(resolve('tsconfig.json'), (path) => ts.sys.readFile(path));
  const options = ts.parseJsonConfigFileContent(config.config, ts.sys, process.cwd()).options;
  const program = ts.createProgram([resolve(file)], { ...options, noEmit: true });
  const source = program.getSourceFile(resolve(file));
  if (source === undefined) throw new Error(`${file} not found`);
  const actual = new Map<number, string[]>();
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    if (diagnostic.file?.fileName !== source.fileName || diagnostic.start === undefined) {
      throw new Error(`unexpected error outside the fixture: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);
    }
    const line = source.getLineAndCharacterOfPosition(diagnostic.start).line + 1;
    actual.set(line, [...(actual.get(line) ?? []), `TS${diagnostic.code}`]);
  }
  const expected = new Map<number, string>();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      const code = MARKER.exec(text)?.[1];
      if (code !== undefined) expected.set(index + 1, code);
    });
  return { expected, actual };
}

describe('generated payload types', () => {
  it('enqueue: a wrong job type, a missing, extra or mistyped field does not compile; a right payload does', { timeout: 120_000 }, () => {
    const { expected, actual } = compile('test/fixtures/types/enqueue.ts');
    expect(expected.size).toBeGreaterThan(0);
    expect(Object.fromEntries([...actual].map(([line, codes]) => [line, [...new Set(codes)].join(',')]))).toEqual(Object.fromEntries(expected));
  });

  it('handlers: a misspelt, mistyped or not-routed field does not compile; narrowing a union payload does', { timeout: 120_000 }, () => {
    const { expected, actual } = compile('test/fixtures/types/handler.ts');
    expect(expected.size).toBeGreaterThan(0);
    expect(Object.fromEntries([...actual].map(([line, codes]) => [line, [...new Set(codes)].join(',')]))).toEqual(Object.fromEntries(expected));
  });
});
