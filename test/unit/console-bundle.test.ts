import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assetSizes, buildConsoleAssets, loadConsoleAssets } from '../../src/console/bundle.ts';

describe('console bundle', () => {
  it('builds from the source, loads nothing from another origin, and stays small', async () => {
    const assets = await buildConsoleAssets();
    const all = `${assets.html}\n${assets.script}\n${assets.style}`;
    // The only absolute URL is the SVG namespace (an identifier, never fetched).
    expect(all.match(/https?:\/\/[^\s"'`)]+/g)?.filter((url) => url !== 'http://www.w3.org/2000/svg') ?? []).toEqual([]);
    expect(assets.html).toContain('<script type="module" src="/console/app.js">');
    // No inline script or style: the producer's Content-Security-Policy (helmet's default) allows 'self' only.
    expect(assets.html).not.toMatch(/<script>|<style|style="/);
    const size = assetSizes(assets);
    // The README states the size.
    expect(size.raw).toBeLessThan(40_000);
    expect(size.gzip).toBeLessThan(14_000);
  });

  it('an install without the source (the package) serves the built files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'warren-console-'));
    try {
      await mkdir(join(root, 'dist', 'console'), { recursive: true });
      await writeFile(join(root, 'dist', 'console', 'index.html'), '<html>');
      await writeFile(join(root, 'dist', 'console', 'app.js'), 'built();');
      await writeFile(join(root, 'dist', 'console', 'app.css'), 'body{}');
      expect(await loadConsoleAssets(root)).toEqual({ html: '<html>', script: 'built();', style: 'body{}' });
      await rm(join(root, 'dist'), { recursive: true });
      await expect(loadConsoleAssets(root)).rejects.toThrow(/console is missing/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
