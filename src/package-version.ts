import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * warren's own version, from its package.json: one level up from src/ in a
 * clone, two from dist/src/ in the installed package, so it is looked up
 * rather than hard-coded (or compiled in, which would copy package.json into
 * dist/).
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'warren' && typeof manifest.version === 'string') return manifest.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
