import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The console's assets: the page, its script and its style sheet.
 *
 * - In a clone (the TypeScript source in `src/console/client/` is there)
 *   they are bundled from that source by esbuild, in memory, on the first
 *   request: `npm ci && npm test` and `npx warren up` serve exactly what the
 *   source says, with no build step to forget and no built file to go stale.
 * - The npm package ships them built (`npm run build` writes
 *   `dist/console/`, which `files` lists) and not the source: smaller, and
 *   nothing is compiled in a user's production process.
 */
export interface ConsoleAssets {
  html: string;
  script: string;
  style: string;
}

const FILES = { html: 'index.html', script: 'app.js', style: 'app.css' } as const;

/** warren's package root: one level up from src/ (a clone), two from dist/src/ (the package). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'warren') return dir;
    dir = dirname(dir);
  }
  throw new Error("warren's package.json was not found above the console's module");
}

/** The source when it is there (a clone), else the built files (the package). */
export async function loadConsoleAssets(root = packageRoot()): Promise<ConsoleAssets> {
  const source = join(root, 'src', 'console', 'client');
  if (existsSync(join(source, 'main.ts'))) return buildConsoleAssets(source);
  const built = join(root, 'dist', 'console');
  if (!existsSync(join(built, FILES.script))) throw new Error('the console is missing from this install (neither src/console/client nor dist/console)');
  const [html, script, style] = await Promise.all([FILES.html, FILES.script, FILES.style].map((file) => readFile(join(built, file), 'utf8')));
  return { html: html ?? '', script: script ?? '', style: style ?? '' };
}

/** Bundles the client: a minified ES module for current browsers, the page and its style sheet. */
export async function buildConsoleAssets(sourceDir = join(packageRoot(), 'src', 'console', 'client')): Promise<ConsoleAssets> {
  // Imported only here: serving the built files never loads esbuild.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(sourceDir, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    platform: 'browser',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = result.outputFiles[0]?.text;
  if (script === undefined) throw new Error('esbuild produced no console bundle');
  const [html, style] = await Promise.all([readFile(join(sourceDir, 'index.html'), 'utf8'), readFile(join(sourceDir, 'style.css'), 'utf8')]);
  return { html, script, style };
}

/** `npm run build`: writes the built assets to `<root>/dist/console/` for the package. */
export async function writeConsoleAssets(root = packageRoot()): Promise<string> {
  const assets = await buildConsoleAssets(join(root, 'src', 'console', 'client'));
  const out = join(root, 'dist', 'console');
  await mkdir(out, { recursive: true });
  await Promise.all((Object.keys(FILES) as Array<keyof typeof FILES>).map((key) => writeFile(join(out, FILES[key]), assets[key])));
  return out;
}

/** Bytes of the assets together, raw and gzipped: the size the README states, checked by a test. */
export function assetSizes(assets: ConsoleAssets): { raw: number; gzip: number } {
  const all = [assets.html, assets.script, assets.style];
  return {
    raw: all.reduce((sum, text) => sum + Buffer.byteLength(text), 0),
    gzip: all.reduce((sum, text) => sum + gzipSync(text).length, 0),
  };
}
