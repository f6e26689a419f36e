import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StreamWorkerDefinition } from '../streams/stream-worker.ts';
import { isStreamWorkerDefinition } from '../streams/stream-worker-brand.ts';
import { isWorkerDefinition, type WorkerDefinition } from './define.ts';

/**
 * `warren worker` arguments → worker definitions. An argument that looks
 * like a path (has a `/` or a file extension) is a module path relative to
 * the working directory; anything else is a name, resolved to
 * `workers/<name>.ts`: a consumer's name for a job worker, `<stream>.<group>`
 * for a stream group (`order-log.inventory` → `workers/order-log.inventory.ts`),
 * so a group never collides with a job consumer of the same name. A module
 * default-exports `defineWorker(...)` or `defineStreamWorker(...)`.
 */
export function resolveWorkerModule(spec: string, cwd = process.cwd()): string {
  const looksLikePath = spec.includes('/') || /\.[cm]?[jt]s$/.test(spec);
  if (looksLikePath) {
    const file = isAbsolute(spec) ? spec : resolve(cwd, spec);
    if (!existsSync(file)) throw new WorkerModuleError(`worker module not found: ${spec}`);
    return file;
  }
  // A clone has the TypeScript sources; a built image only dist/ (see Dockerfile).
  const candidates = [`workers/${spec}.ts`, `workers/${spec}.js`, `dist/workers/${spec}.js`];
  const found = candidates.map((candidate) => resolve(cwd, candidate)).find((file) => existsSync(file));
  if (found === undefined) {
    throw new WorkerModuleError(`no worker module for consumer "${spec}" (looked for ${candidates.join(', ')})`);
  }
  return found;
}

/** The file name `warren worker` resolves a stream group's name to: `<stream>.<group>`. */
export function streamWorkerName(stream: string, group: string): string {
  return `${stream}.${group}`;
}

/** A job worker module (`defineWorker`) only: what `runWorkers`, `doctor` and the testing helper run. */
export async function loadWorkerModule(spec: string, cwd = process.cwd()): Promise<WorkerDefinition> {
  const loaded = await loadAnyWorkerModule(spec, cwd);
  if (loaded.kind !== 'job') {
    throw new WorkerModuleError(`${spec}: a stream worker (defineStreamWorker): run it with \`warren worker\` or startStreamWorker, not as a job worker`);
  }
  return loaded.definition;
}

export { isStreamWorkerDefinition };

export type LoadedWorkerModule = { kind: 'job'; spec: string; definition: WorkerDefinition } | { kind: 'stream'; spec: string; definition: StreamWorkerDefinition };

/** A job worker (`defineWorker`) or a stream group member (`defineStreamWorker`). */
export async function loadAnyWorkerModule(spec: string, cwd = process.cwd()): Promise<LoadedWorkerModule> {
  const file = resolveWorkerModule(spec, cwd);
  if (TYPESCRIPT_MODULE.test(file)) await ensureTypeScriptLoader();
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (isWorkerDefinition(module.default)) return { kind: 'job', spec, definition: module.default };
  if (isStreamWorkerDefinition(module.default)) return { kind: 'stream', spec, definition: module.default };
  throw new WorkerModuleError(`${spec}: the module must default-export defineWorker({...}) or defineStreamWorker({...})`);
}

const TYPESCRIPT_MODULE = /\.[cm]?ts$/;

/** Set on `globalThis` by whoever registered tsx first (bin/warren.js in a clone, or this module). */
const TSX_REGISTERED = Symbol.for('warren.tsx-registered');

/**
 * Worker modules written in TypeScript load without a build of the user's:
 * tsx's ESM hooks are registered on the first `.ts` module, once per
 * process. JavaScript workers never load tsx (nor anything of TypeScript).
 */
async function ensureTypeScriptLoader(): Promise<void> {
  const registry = globalThis as { [TSX_REGISTERED]?: boolean };
  if (registry[TSX_REGISTERED] === true) return;
  const { register } = await import('tsx/esm/api');
  register();
  registry[TSX_REGISTERED] = true;
}

export class WorkerModuleError extends Error {
  override readonly name = 'WorkerModuleError';
}
