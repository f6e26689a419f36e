import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The console's assets, built from the TypeScript source shipped with the
 * package (`src/console/client/`) by esbuild, in memory, the first time they
 * are asked for — so a clone after `npm ci`, the test run and the installed
 * package all serve what the source says, with no build step to forget and
 * no built file to keep in step with its source. esbuild is already under
 * every install (tsx runs on it); it is imported only here, only when the
 * console is first opened.
 */
export interface ConsoleAssets {
  html: string;
  script: string;
  style: string;
}

/** The directory of the client's source: `src/console/client` under the package root, from src/ (a clone) or dist/src/ (the package). */
export function clientSourceDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const candidate = join(dir, 'src', 'console', 'client');
    if (existsSync(join(candidate, 'main.ts')) && existsSync(join(dir, 'package.json'))) {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'warren') return candidate;
    }
    dir = dirname(dir);
  }
  throw new Error('the console source (src/console/client) is missing from this install');
}

/** Builds the assets once: a minified ES module bundle, the page and its style sheet. */
export async function buildConsoleAssets(sourceDir = clientSourceDir()): Promise<ConsoleAssets> {
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

/** Bytes of each asset, raw and gzipped: the size the README states, checked by a test. */
export function assetSizes(assets: ConsoleAssets): { raw: number; gzip: number } {
  const all = [assets.html, assets.script, assets.style];
  return {
    raw: all.reduce((sum, text) => sum + Buffer.byteLength(text), 0),
    gzip: all.reduce((sum, text) => sum + gzipSync(text).length, 0),
  };
}
