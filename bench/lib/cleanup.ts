import type { ChildProcess } from 'node:child_process';

/**
 * What the benchmark must undo however it ends: vhosts, Redis keys, tables,
 * child processes. Each resource registers its undo when it is created and
 * unregisters once it has been undone in the ordinary way (a `finally`).
 * On SIGINT/SIGTERM whatever is still registered is undone, newest first
 * (so children die before the vhost they use is deleted), and the process
 * exits; a second signal exits at once.
 */

type Undo = () => Promise<unknown> | unknown;

const pending: { label: string; undo: Undo }[] = [];
let installed = false;
let interrupted = false;

/** Registers `undo`; the returned function unregisters it (call it after undoing normally). */
export function registerCleanup(label: string, undo: Undo): () => void {
  // After a signal nothing new may start: it could outlive the exit.
  if (interrupted) throw new Error(`interrupted: not starting ${label}`);
  installOnce();
  const entry = { label, undo };
  pending.push(entry);
  return () => {
    const index = pending.indexOf(entry);
    if (index >= 0) pending.splice(index, 1);
  };
}

/** Runs `use` with `undo` registered, and undoes in any case afterwards (errors of `undo` are reported, not thrown). */
export async function withCleanup<T>(label: string, undo: Undo, use: () => Promise<T>): Promise<T> {
  const unregister = registerCleanup(label, undo);
  try {
    return await use();
  } finally {
    unregister();
    await Promise.resolve()
      .then(undo)
      .catch((error: unknown) => process.stderr.write(`[bench] cleanup of ${label} failed: ${error instanceof Error ? error.message : String(error)}\n`));
  }
}

/** Kills `child` on interrupt; unregisters itself when the child exits. Throws (after killing it) once interrupted. */
export function trackChild(child: ChildProcess): void {
  if (interrupted) child.kill('SIGKILL');
  const unregister = registerCleanup(`process ${child.pid ?? '?'}`, () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }
    return undefined;
  });
  child.once('exit', unregister);
}

/** True once a signal started the cleanup: parts should not create anything more. */
export function isInterrupted(): boolean {
  return interrupted;
}

/** Undoes everything still registered, newest first: the signal handler's work, and run.ts's second try at the end of a run. */
export async function runPendingCleanups(report: (message: string) => void = () => undefined): Promise<void> {
  while (pending.length > 0) {
    const entry = pending.pop();
    if (entry === undefined) break;
    try {
      await entry.undo();
      report(`cleaned up ${entry.label}`);
    } catch (error) {
      report(`cleanup of ${entry.label} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function installOnce(): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (interrupted) process.exit(code);
    interrupted = true;
    process.stderr.write(`\n[bench] ${signal}: cleaning up (again to quit at once)\n`);
    void runPendingCleanups((message) => process.stderr.write(`[bench] ${message}\n`)).finally(() => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
