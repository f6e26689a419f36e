import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineStreamWorker } from '../../src/streams/stream-worker.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { streamGroupWorkers } from '../../src/up/session.ts';
import { defineWorker } from '../../src/worker/define.ts';
import { isStreamWorkerDefinition, loadAnyWorkerModule, loadWorkerModule, resolveWorkerModule, streamWorkerName, WorkerModuleError } from '../../src/worker/load.ts';

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

describe('stream worker modules', () => {
  it('a stream group name <stream>.<group> resolves to workers/<stream>.<group>.ts, apart from a consumer of the same name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-resolve-'));
    try {
      for (const file of ['workers/inventory.ts', 'workers/order-log.inventory.ts']) {
        mkdirSync(join(dir, 'workers'), { recursive: true });
        writeFileSync(join(dir, file), 'export default {};\n');
      }
      expect(resolveWorkerModule(streamWorkerName('order-log', 'inventory'), dir)).toBe(join(dir, 'workers/order-log.inventory.ts'));
      expect(resolveWorkerModule('inventory', dir)).toBe(join(dir, 'workers/inventory.ts'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recognises defineStreamWorker results by their mark, and nothing else (not a look-alike object)', () => {
    const definition = defineStreamWorker({ stream: 'order-log', group: 'g', handleBatch: async () => undefined });
    expect(isStreamWorkerDefinition(definition)).toBe(true);
    expect(isStreamWorkerDefinition({ stream: 'order-log', group: 'g' })).toBe(false);
    expect(isStreamWorkerDefinition({ stream: 'order-log', group: 'g', handleBatch: async () => undefined })).toBe(false);
    expect(isStreamWorkerDefinition(defineWorker({ consumer: 'c', handle: async () => undefined }))).toBe(false);
    expect(isStreamWorkerDefinition(undefined)).toBe(false);
  });

  it('`up` starts one process per workers/<stream>.<group>.ts of the topology\'s streams', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-resolve-'));
    try {
      mkdirSync(join(dir, 'workers'));
      for (const file of ['order-log.b.ts', 'order-log.a.ts', 'inventory.ts', 'other-log.x.ts', 'order-log.d.ts.map', '_order-ledger.ts']) writeFileSync(join(dir, 'workers', file), '');
      const plan = { streams: [{ name: 'order-log' }] } as unknown as TopologyPlan;
      expect(streamGroupWorkers(plan, dir)).toEqual(['order-log.a', 'order-log.b']);
      expect(streamGroupWorkers({ streams: [] } as unknown as TopologyPlan, dir)).toEqual([]);
      expect(streamGroupWorkers(plan, join(dir, 'nowhere'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the example order-log modules are stream workers of the groups their file names say', async () => {
    for (const group of ['inventory', 'payments', 'notifications', 'analytics', 'fraud-audit']) {
      const loaded = await loadAnyWorkerModule(streamWorkerName('order-log', group));
      expect(loaded.kind, group).toBe('stream');
      expect(loaded.kind === 'stream' && { stream: loaded.definition.stream, group: loaded.definition.group }).toEqual({ stream: 'order-log', group });
    }
    await expect(loadWorkerModule('order-log.inventory')).rejects.toThrow(/a stream worker \(defineStreamWorker\)/);
  });
});
