#!/usr/bin/env node
// From a clone, run the TypeScript sources through tsx: `npx warren` works
// right after `npm ci`, and worker modules written in TypeScript load without
// a build. An image that ships only the compiled tree (dist/) runs that.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source);
} else {
  await import('../dist/src/cli.js');
}
