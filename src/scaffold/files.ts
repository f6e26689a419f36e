import { parseTopology } from '../topology/load.ts';
import { generatePayloadTypes } from '../typegen/generate.ts';
import {
  dependencies,
  envExample,
  enqueueTs,
  gitignore,
  scripts,
  topologyYaml,
  TOPOLOGY_FILE,
  tsconfigJson,
  TYPES_FILE,
  workerTs,
  CONSUMER,
} from './templates.ts';

/** Pure: path → content of every file `warren init` writes, except package.json (merged, see below). */
export function scaffoldFiles(): Map<string, string> {
  const parsed = parseTopology(topologyYaml, TOPOLOGY_FILE);
  // The template is ours; a failure here is a bug, caught by the unit test.
  if (!parsed.ok) throw new Error(`starter topology is invalid: ${parsed.issues.map((i) => i.message).join('; ')}`);
  return new Map([
    [TOPOLOGY_FILE, topologyYaml],
    [`workers/${CONSUMER}.ts`, workerTs],
    [TYPES_FILE, generatePayloadTypes(parsed.value.plan, { command: `warren types ${TOPOLOGY_FILE} --out ${TYPES_FILE}` })],
    ['src/enqueue.ts', enqueueTs],
    ['.env.example', envExample],
    ['tsconfig.json', tsconfigJson],
    ['.gitignore', gitignore],
  ]);
}

export interface PackageJsonMerge {
  manifest: Record<string, unknown>;
  /** Script names added (the ones already there are kept as they are). */
  addedScripts: string[];
}

/**
 * Pure: the project's package.json with the scaffold's scripts and
 * dependencies added. Nothing the user already has is changed: an existing
 * script or dependency of the same name wins. A new project is an ES module
 * package (`"type": "module"`), which the scaffold's files are.
 */
export function mergePackageJson(existing: Record<string, unknown> | undefined, name: string, warrenVersion: string): PackageJsonMerge {
  const fresh = { name, version: '0.1.0', private: true, type: 'module' };
  // A manifest with dependencies only is what `npm install warren` leaves in
  // an empty directory: no code of the user's relies on it yet, so it gets
  // what a new project gets (an ES module package).
  const bare = existing !== undefined && Object.keys(existing).every((key) => DEPENDENCY_KEYS.has(key));
  const manifest: Record<string, unknown> = existing === undefined ? fresh : bare ? { ...fresh, ...existing } : { ...existing };
  const currentScripts = record(manifest.scripts);
  const addedScripts = Object.keys(scripts).filter((script) => !(script in currentScripts));
  manifest.scripts = { ...scripts, ...currentScripts };
  const wanted = dependencies(warrenVersion);
  const currentDeps = record(manifest.dependencies);
  const currentDevDeps = record(manifest.devDependencies);
  const has = (pkg: string) => pkg in currentDeps || pkg in currentDevDeps;
  manifest.dependencies = { ...pick(wanted.dependencies, (pkg) => !has(pkg)), ...currentDeps };
  manifest.devDependencies = { ...pick(wanted.devDependencies, (pkg) => !has(pkg)), ...currentDevDeps };
  return { manifest, addedScripts };
}

const DEPENDENCY_KEYS = new Set(['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']);

/** A directory name → a valid npm package name. */
export function packageNameFor(directory: string): string {
  const name = directory
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name === '' ? 'my-service' : name.slice(0, 214);
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function pick(source: Record<string, string>, keep: (key: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(source).filter(([key]) => keep(key)));
}
