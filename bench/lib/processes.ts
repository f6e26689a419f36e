import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePorts } from '../../src/broker/private-node.ts';
import { redactText } from '../../src/broker/urls.ts';
import { isInterrupted, trackChild } from './cleanup.ts';

/** Child processes of the benchmarks: `warren serve`, `warren worker` and the peers, run as a user would; killed on Ctrl-C. */

export interface Child {
  process: ChildProcess;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | string | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startChild(args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string) => void): Child {
  if (isInterrupted()) throw new Error('interrupted');
  const child = spawn(process.execPath, args, {
    env: { ...process.env, LOG_LEVEL: 'warn', WARREN_LOG_PRETTY: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  trackChild(child);
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => onLine?.(line));
  return {
    process: child,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * Runs a child that measures something itself and prints one
 * `result <json>` line before exiting 0 (consume-child.ts, the peers'
 * children): resolves with
 * the parsed JSON; rejects when it exits otherwise or outlives `timeoutMs`.
 */
export async function childResult<T>(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<T> {
  let result: string | undefined;
  // BENCH_CPU_PROF=1: a V8 profile of each measuring process, for `node --cpu-prof` style digging.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', 'bench/results/profiles'] : [];
  const child = startChild([...profile, ...args], env, (line) => {
    if (line.startsWith('result ')) result = line.slice('result '.length);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void child.stop('SIGKILL');
  }, timeoutMs);
  const code = await child.exited.finally(() => clearTimeout(timer));
  const what = redactText(args.filter((arg) => !arg.startsWith('--') && arg !== 'tsx').join(' '));
  if (timedOut) throw new Error(`${what}: no result within ${timeoutMs} ms`);
  if (code !== 0 || result === undefined) throw new Error(`${what}: exited with ${code}${result === undefined ? ' without a result' : ''}`);
  return JSON.parse(result) as T;
}

/** Writes a topology to a temp file; `remove` deletes it. */
export function topologyFile(yaml: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const path = join(dir, 'topology.yaml');
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `warren serve` on a free loopback port; resolves once `/readyz` answers 200. */
export async function startProducerProcess(topology: string, amqpUrl: string): Promise<Child & { url: string }> {
  const [port] = await freePorts(1);
  const child = startChild(['--import', 'tsx', 'bench/lib/serve-child.ts', topology, String(port)], { AMQP_URL: amqpUrl });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`warren serve exited with ${child.process.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return { ...child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await child.stop('SIGKILL');
  throw new Error('warren serve did not become ready within 30 s');
}

/** Resident set size of a process, in MiB (Linux /proc). */
export async function rssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return kib / 1024;
}
