import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Rascal and BullMQ are the benchmark's devDependencies, loaded only in the peers' child processes. */
const PEER_IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"](?:rascal|bullmq)(?:\/[^'"]*)?['"]/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'results' ? [] : sources(path);
    return /\.(?:ts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('bench peers stay in the benchmark', () => {
  it('the pattern sees the imports it is meant to forbid', () => {
    expect(PEER_IMPORT.test("import { Queue } from 'bullmq';")).toBe(true);
    expect(PEER_IMPORT.test('const r = await import("rascal")')).toBe(true);
    expect(PEER_IMPORT.test("import { x } from './bullmq.ts';")).toBe(false);
  });

  it('nothing in src/ or bin/ imports rascal or bullmq', () => {
    const offenders = [...sources('src'), ...sources('bin')].filter((file) => PEER_IMPORT.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('in bench/, only the peers\' child processes load them', () => {
    const loaders = sources('bench').filter((file) => PEER_IMPORT.test(readFileSync(file, 'utf8')));
    expect(loaders.sort()).toEqual(['bench/peers/bullmq-child.ts', 'bench/peers/rascal-child.ts']);
  });
});
