import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { scaffoldFiles } from '../../src/scaffold/files.ts';

/**
 * Every ```ts block of the README compiles, as a user would write it:
 * `warren` and `warren/testing` are the package's entry points (mapped to
 * src/ here), and a block whose first line names a file (`// workers/x.ts`)
 * sits at that path in a project holding what it imports: the types
 * `warren init` generates (src/jobs.ts, workers/welcome-email.ts) and
 * those of topology/orders.yaml (workers/_jobs.ts).
 */
const repo = resolve('.');
const root = join(repo, '.readme-samples');

interface Block {
  line: number;
  code: string;
}

function readmeBlocks(): Block[] {
  const text = readFileSync('README.md', 'utf8');
  const blocks: Block[] = [];
  for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    blocks.push({ line: text.slice(0, match.index).split('\n').length + 1, code: match[1] ?? '' });
  }
  return blocks;
}

describe('README code samples', () => {
  it('every ```ts block type-checks against the public API', { timeout: 120_000 }, () => {
    const blocks = readmeBlocks();
    expect(blocks.length).toBeGreaterThan(5);
    const scaffold = scaffoldFiles();
    const support: Record<string, string> = {
      'src/jobs.ts': scaffold.get('src/jobs.ts') ?? '',
      'workers/welcome-email.ts': scaffold.get('workers/welcome-email.ts') ?? '',
      'workers/_jobs.ts': readFileSync('workers/_jobs.ts', 'utf8'),
    };
    const files = new Map<string, string>();
    const samples = new Map<string, Block>();
    blocks.forEach((block, index) => {
      const dir = join(root, `block-${index}`);
      const named = /^\/\/ ([\w./-]+\.ts)\b/.exec(block.code)?.[1];
      const file = join(dir, named ?? 'sample.ts');
      for (const [path, content] of Object.entries(support)) files.set(join(dir, path), content);
      files.set(file, block.code);
      samples.set(file, block);
    });

    const config = ts.readConfigFile(join(repo, 'tsconfig.json'), (path) => ts.sys.readFile(path));
    const options: ts.CompilerOptions = {
      ...ts.parseJsonConfigFileContent(config.config, ts.sys, repo).options,
      noEmit: true,
      paths: { warren: [join(repo, 'src/index.ts')], 'warren/testing': [join(repo, 'src/testing/index.ts')] },
    };
    const host = ts.createCompilerHost(options);
    const { fileExists, readFile, getSourceFile, directoryExists } = host;
    host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
    host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
    host.directoryExists = (name) => [...files.keys()].some((file) => dirname(file).startsWith(name)) || (directoryExists?.call(host, name) ?? false);
    host.getSourceFile = (name, language, onError, create) => {
      const content = files.get(name);
      return content === undefined ? getSourceFile.call(host, name, language, onError, create) : ts.createSourceFile(name, content, language);
    };
    const program = ts.createProgram([...samples.keys()], options, host);
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const block = diagnostic.file === undefined ? undefined : samples.get(diagnostic.file.fileName);
      if (diagnostic.file === undefined || diagnostic.start === undefined || block === undefined) {
        return `${diagnostic.file?.fileName ?? '(global)'}: TS${diagnostic.code} ${message}`;
      }
      const line = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line;
      return `README.md:${block.line + line}: TS${diagnostic.code} ${message}`;
    });
    expect(problems).toEqual([]);
  });
});
