import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

/**
 * warren as a user gets it: build and pack the package, install the tarball
 * into a project in the system temp directory (outside the repository, so
 * nothing resolves from the repo's node_modules), scaffold it with the
 * installed `warren init`, type-check it against the installed types, and
 * run its npm scripts against the broker (a vhost of its own): a job
 * enqueued from code through the job client is handled once by a
 * TypeScript worker. Then the same with plain JavaScript (.mjs) files.
 * One install serves every check; npm's cache (warm after `npm ci`) keeps
 * it quick.
 */
const exec = promisify(execFile);
const repo = resolve('.');
const INSTALL_TIMEOUT_MS = 8 * 60_000;

let vhost: TestVhost;
let work: string;
let project: string;
let tarball: { file: string; size: number; files: string[] };
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

/** The environment of a user's shell: no npm script variables, no path into this repository. */
function userEnv(amqpUrl: string): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_|^INIT_CWD$|^NODE_OPTIONS$|^VITEST/i.test(key)));
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.startsWith(repo)).join(delimiter);
  return { ...clean, PATH: path, AMQP_URL: amqpUrl, LOG_LEVEL: 'info', WARREN_LOG_PRETTY: '0' };
}

async function run(command: string, args: string[], cwd: string, timeout = INSTALL_TIMEOUT_MS): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${stderr ?? ''}\n${stdout ?? ''}`, { cause: error });
  }
}

/** Starts a long-running command in its own process group and collects its stdout lines. */
function start(command: string, args: string[], cwd: string): { lines: string[]; child: ChildProcess } {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
  return { lines, child };
}

/**
 * SIGTERM to the command's process group, then wait until every process of
 * it has let go of the output pipe ('close', not 'exit': `npm run` exits on
 * the signal before the worker it started has finished stopping).
 */
async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const closed = new Promise((done) => (child.stdout?.closed ? done(undefined) : child.once('close', done)));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return; // the group is gone already
  }
  const timedOut = await Promise.race([closed.then(() => false), new Promise((done) => setTimeout(() => done(true), 20_000))]);
  if (timedOut) process.kill(-child.pid, 'SIGKILL');
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** pino JSON lines with this message. */
function logged(lines: string[], msg: string, match: (entry: Record<string, unknown>) => boolean = () => true): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry.msg === msg && match(entry) ? [entry] : [];
    } catch {
      return [];
    }
  });
}

beforeAll(async () => {
  vhost = await createTestVhost('package');
  env = userEnv(vhost.url);
  work = await mkdtemp(join(tmpdir(), 'warren-package-'));
  project = join(work, 'service');
  await mkdir(project);
  const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', work], repo)) as Array<{
    filename: string;
    size: number;
    files: Array<{ path: string }>;
  }>;
  const info = packed[0];
  if (info === undefined) throw new Error('npm pack printed no tarball');
  tarball = { file: join(work, info.filename), size: info.size, files: info.files.map((f) => f.path) };
  // What `npm install warren` does, plus what the scaffold's scripts need.
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball.file, 'typescript@5.9', 'tsx@4', '@types/node@20'], project);
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  for (const child of children) await stop(child).catch(() => undefined);
  if (work !== undefined) await rm(work, { recursive: true, force: true });
  await vhost?.cleanup();
});

describe('the installed package', () => {
  it('lives outside the repository and its tarball holds only what users run', () => {
    expect(relative(repo, project).startsWith('..')).toBe(true);
    const unexpected = tarball.files.filter(
      (path) => !/^(package\.json|README\.md|CHANGELOG\.md|bin\/warren\.js|schema\/[\w.-]+\.json|dist\/src\/.+\.(js|d\.ts))$/.test(path),
    );
    expect(unexpected).toEqual([]);
    expect(tarball.files).toEqual(expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/testing/index.js', 'dist/src/cli.js']));
    // The README states the size (about 360 kB with history and tracing); a jump past this bound means something is shipped that should not be.
    expect(tarball.size).toBeLessThan(500_000);
  });

  it('exports the public API and nothing else', async () => {
    const script = `
      const warren = await import('warren');
      const testing = await import('warren/testing');
      const deep = await import('warren/dist/src/cli.js').then(() => 'reachable', (e) => e.code);
      console.log(JSON.stringify({ warren: Object.keys(warren), testing: Object.keys(testing), deep }));`;
    const seen = JSON.parse(await run('node', ['--input-type=module', '-e', script], project)) as { warren: string[]; testing: string[]; deep: string };
    expect(seen.warren).toEqual(expect.arrayContaining(PUBLIC_VALUES));
    expect(seen.testing).toEqual(expect.arrayContaining(['createTestVhost', 'startTestWorker']));
    expect(seen.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('warren init + its scripts: types, typecheck, apply, a TypeScript worker and an enqueue from code, handled once', { timeout: 8 * 60_000 }, async () => {
    const init = await run('npx', ['warren', 'init'], project, 60_000);
    expect(init).toContain('created topology.yaml, workers/welcome-email.ts, src/jobs.ts, src/enqueue.ts, .env.example');
    const manifest = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as { type?: string; scripts: Record<string, string> };
    expect(manifest.type).toBe('module');
    const generated = await readFile(join(project, 'src/jobs.ts'), 'utf8');
    await run('npm', ['run', 'types'], project, 60_000);
    expect(await readFile(join(project, 'src/jobs.ts'), 'utf8')).toBe(generated);

    // Type-check the project against the installed types, warren's own .d.ts
    // files included (skipLibCheck off), with a file that uses every public name.
    await writeFile(join(project, 'src/public-api.ts'), PUBLIC_API_USE);
    await run('npm', ['run', 'typecheck', '--', '--skipLibCheck', 'false'], project, 180_000);
    // ...and a wrong payload must not compile.
    await writeFile(join(project, 'src/wrong.ts'), WRONG_PAYLOAD);
    await expect(run('npx', ['tsc', '--noEmit'], project, 180_000)).rejects.toThrow(/src\/wrong\.ts.*TS2322/s);
    await rm(join(project, 'src/wrong.ts'));

    await run('npm', ['run', 'topology:apply'], project, 60_000);
    const worker = start('npm', ['run', 'worker'], project);
    await waitFor('the worker to run', () => logged(worker.lines, 'worker running').length > 0);

    expect(await run('npm', ['run', '--silent', 'enqueue', '--', 'u-1'], project, 60_000)).toContain('enqueued user.signed-up signed-up-u-1');
    const sent = (entry: Record<string, unknown>) => entry.userId === 'u-1';
    await waitFor('the welcome email', () => logged(worker.lines, 'welcome email sent', sent).length === 1);
    // The same idempotency key again: the same job, skipped as a duplicate.
    await run('npm', ['run', '--silent', 'enqueue', '--', 'u-1'], project, 60_000);
    await waitFor('the duplicate', () => logged(worker.lines, 'job settled', (e) => e.jobId === 'signed-up-u-1' && e.outcome === 'duplicate').length === 1);
    expect(logged(worker.lines, 'welcome email sent', sent)).toHaveLength(1);
    // SIGTERM to `npm run worker`'s process group: the worker stops gracefully.
    await stop(worker.child);
    expect(logged(worker.lines, 'worker stopped')).toHaveLength(1);
  });

  it('plain JavaScript: a .mjs worker and enqueue script, no TypeScript involved', { timeout: 3 * 60_000 }, async () => {
    const dir = join(project, 'js');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'topology.yaml'), JS_TOPOLOGY);
    await writeFile(join(dir, 'worker.mjs'), JS_WORKER);
    await writeFile(join(dir, 'enqueue.mjs'), JS_ENQUEUE);
    const warren = join(project, 'node_modules', '.bin', 'warren');
    await run(warren, ['topology', 'apply', 'js/topology.yaml'], project, 60_000);
    const worker = start(warren, ['worker', 'js/worker.mjs', '--topology', 'js/topology.yaml'], project);
    await waitFor('the JS worker to run', () => logged(worker.lines, 'worker running').length > 0);
    expect(await run('node', ['js/enqueue.mjs'], project, 60_000)).toContain('enqueued ping ping-1');
    await waitFor('the pong', () => logged(worker.lines, 'pong').length === 1);
    expect(logged(worker.lines, 'pong')[0]).toMatchObject({ n: 7, tsx: false });
    await stop(worker.child);
  });
});

/** Runtime values `import … from 'warren'` must offer (types are checked by PUBLIC_API_USE). */
const PUBLIC_VALUES = [
  'createJobClient',
  'defineWorker',
  'runWorkers',
  'Worker',
  'startProducer',
  'createIdempotencyStore',
  'MemoryIdempotencyStore',
  'RedisIdempotencyStore',
  'PostgresIdempotencyStore',
  'loadTopology',
  'compileTopology',
  'planTopology',
  'applyTopology',
  'exportDefinitions',
  'generatePayloadTypes',
  'withDeadLetterQueue',
  'listDeadLetters',
  'replayDeadLetters',
  'replayRouteFor',
  'purgeDeadLetters',
  'WarrenError',
  'BrokerUnavailableError',
  'UnroutableError',
  'PublishRejectedError',
  'NonRetryableError',
  'TopologyError',
  'InvalidJobPayloadError',
  'UnknownJobTypeError',
  'InvalidPayloadError',
  'HEADERS',
];

const PUBLIC_API_USE = `import {
  applyTopology, BrokerUnavailableError, createIdempotencyStore, createJobClient, defineWorker, InvalidJobPayloadError,
  listDeadLetters, loadTopology, NonRetryableError, parseSelection, planTopology, purgeDeadLetters, replayDeadLetters, replayRouteFor, runWorkers, startProducer, withDeadLetterQueue,
  type EnqueueManyResult, type IdempotencyStore, type JobClient, type JobContext, type ReplaySummary, type RunningProducer,
  type TopologyPlan, type WorkerDefinition,
} from 'warren';
import { createTestVhost, startTestWorker, type TestWorker } from 'warren/testing';
import type { ConsumerPayloads, JobTypes } from './jobs.js';

export async function everything(): Promise<void> {
  const { plan }: { plan: TopologyPlan } = await loadTopology('topology.yaml');
  const jobs: JobClient<JobTypes> = await createJobClient<JobTypes>({ topology: plan });
  try {
    await jobs.enqueue('user.signed-up', { userId: 'u', email: 'u@example.com' });
    const batch: EnqueueManyResult = await jobs.enqueueMany('user.signed-up', [{ userId: 'v', email: 'v@example.com' }]);
    void batch.accepted;
  } catch (error) {
    if (error instanceof BrokerUnavailableError || error instanceof InvalidJobPayloadError) throw error;
  } finally {
    await jobs.close();
  }
  const worker: WorkerDefinition = defineWorker<ConsumerPayloads['welcome-email']>({
    consumer: 'welcome-email',
    handle: (user, ctx: JobContext) => {
      if (user.email.endsWith('@invalid')) throw new NonRetryableError('no');
    },
  });
  const store: IdempotencyStore = await createIdempotencyStore({ kind: 'memory' });
  await store.close();
  const running = await runWorkers({ topology: 'topology.yaml', workers: ['welcome-email'] });
  await running.stop();
  const producer: RunningProducer = await startProducer({ topologyFile: 'topology.yaml', port: 0 });
  await producer.close();
  await planTopology(plan, { amqpUrls: ['amqp://localhost'], managementUrl: 'http://localhost:15672' });
  await applyTopology(plan, { amqpUrls: ['amqp://localhost'], managementUrl: 'http://localhost:15672' });
  const route = replayRouteFor(plan, 'welcome-email.dlq');
  const summary: ReplaySummary = await withDeadLetterQueue({ amqpUrls: ['amqp://localhost'], plan }, 'welcome-email.dlq', ({ broker, openPublisher }) =>
    replayDeadLetters(broker, openPublisher, 'welcome-email.dlq', { route, selection: parseSelection({ filters: ['jobType=user.signed-up'] }), dryRun: true }),
  );
  await withDeadLetterQueue({ amqpUrls: ['amqp://localhost'], plan }, 'welcome-email.dlq', ({ broker }) => listDeadLetters(broker, 'welcome-email.dlq'));
  await withDeadLetterQueue({ amqpUrls: ['amqp://localhost'], plan }, 'welcome-email.dlq', ({ broker }) =>
    purgeDeadLetters(broker, 'welcome-email.dlq', { selection: parseSelection({}), dryRun: true }),
  );
  const vhost = await createTestVhost();
  const test: TestWorker = await startTestWorker({ vhost, topology: await vhost.apply(plan), workers: [worker] });
  await test.waitForJob('id');
  void summary;
}
`;

const WRONG_PAYLOAD = `import { createJobClient } from 'warren';
import type { JobTypes } from './jobs.js';

const jobs = await createJobClient<JobTypes>({ topology: 'topology.yaml' });
await jobs.enqueue('user.signed-up', { userId: 42, email: 'x@example.com' });
`;

const JS_TOPOLOGY = `version: 1
exchanges:
  js: { type: direct }
jobs:
  ping:
    exchange: js
    routingKey: ping
    schema: { type: object, required: [n], properties: { n: { type: integer } } }
consumers:
  pong:
    source: { exchange: js, pattern: ping }
`;

const JS_WORKER = `import { defineWorker } from 'warren';

export default defineWorker({
  consumer: 'pong',
  handle(payload, ctx) {
    // tsx is loaded only for TypeScript worker modules.
    ctx.logger.info({ n: payload.n, tsx: globalThis[Symbol.for('warren.tsx-registered')] === true }, 'pong');
  },
});
`;

const JS_ENQUEUE = `import { createJobClient } from 'warren';

const jobs = await createJobClient({ topology: 'js/topology.yaml' });
try {
  const job = await jobs.enqueue('ping', { n: 7 }, { idempotencyKey: 'ping-1' });
  console.log(\`enqueued \${job.jobType} \${job.id}\`);
} finally {
  await jobs.close();
}
`;
