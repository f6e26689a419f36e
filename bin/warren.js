#!/usr/bin/env node
// The `warren` command. Installed from npm, it runs the compiled CLI
// (dist/src/cli.js); worker modules in TypeScript still load, through tsx,
// registered only when one is loaded. In a clone, where src/ is present, it
// runs the TypeScript sources through tsx, so `npx warren …` works right
// after `npm ci` without a build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  // src/worker/load.ts registers tsx itself for a .ts worker unless this is set.
  globalThis[Symbol.for('warren.tsx-registered')] = true;
  await import(source);
} else {
  await import('../dist/src/cli.js');
}
