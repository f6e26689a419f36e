import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveWorkerModule, WorkerModuleError } from '../../src/worker/load.ts';

describe('resolveWorkerModule', () => {
  const dirs: string[] = [];
  const project = (files: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-resolve-'));
    dirs.push(dir);
    for (const file of files) {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      writeFileSync(join(dir, file), 'export default {};\n');
    }
    return dir;
  };
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('resolves a consumer name to workers/<name>.ts in a clone', () => {
    const dir = project(['workers/inventory.ts', 'dist/workers/inventory.js']);
    expect(resolveWorkerModule('inventory', dir)).toBe(join(dir, 'workers/inventory.ts'));
  });

  it('falls back to the compiled dist/workers/<name>.js in a built image', () => {
    const dir = project(['dist/workers/inventory.js']);
    expect(resolveWorkerModule('inventory', dir)).toBe(join(dir, 'dist/workers/inventory.js'));
  });

  it('names every place it looked when there is no module', () => {
    const dir = project([]);
    expect(() => resolveWorkerModule('nope', dir)).toThrow(WorkerModuleError);
    expect(() => resolveWorkerModule('nope', dir)).toThrow(/workers\/nope\.ts, workers\/nope\.js, dist\/workers\/nope\.js/);
  });

  it('takes a path as given, relative to cwd', () => {
    const dir = project(['custom/my-worker.ts']);
    expect(resolveWorkerModule('custom/my-worker.ts', dir)).toBe(join(dir, 'custom/my-worker.ts'));
    expect(() => resolveWorkerModule('custom/missing.ts', dir)).toThrow(/worker module not found/);
  });
});
