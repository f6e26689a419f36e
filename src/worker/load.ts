import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isWorkerDefinition, type WorkerDefinition } from './define.ts';

/**
 * `warren worker` arguments → worker definitions. An argument that looks
 * like a path (has a `/` or a file extension) is a module path relative to
 * the working directory; anything else is a consumer name, resolved to
 * `workers/<name>.ts`. Each module default-exports `defineWorker(...)`.
 */
export function resolveWorkerModule(spec: string, cwd = process.cwd()): string {
  const looksLikePath = spec.includes('/') || /\.[cm]?[jt]s$/.test(spec);
  const file = looksLikePath ? (isAbsolute(spec) ? spec : resolve(cwd, spec)) : resolve(cwd, 'workers', `${spec}.ts`);
  if (!existsSync(file)) {
    throw new WorkerModuleError(looksLikePath ? `worker module not found: ${spec}` : `no worker module for consumer "${spec}" (looked for workers/${spec}.ts)`);
  }
  return file;
}

export async function loadWorkerModule(spec: string, cwd = process.cwd()): Promise<WorkerDefinition> {
  const file = resolveWorkerModule(spec, cwd);
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (!isWorkerDefinition(module.default)) {
    throw new WorkerModuleError(`${spec}: the module must default-export defineWorker({...})`);
  }
  return module.default;
}

export class WorkerModuleError extends Error {
  override readonly name = 'WorkerModuleError';
}
