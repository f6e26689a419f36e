import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/** Every child the run started, so none outlives it (see `killEveryChild`). */
const children = new Set<ChildProcess>();

/**
 * Synchronous, for a `process.on('exit')` handler: SIGKILLs every child
 * still running, so a run that dies (an error, Ctrl-C, a test timeout) leaves
 * no worker behind reconnecting forever.
 */
export function killEveryChild(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * The processes under fire: the producer and one worker process per
 * consumer, each restartable after a SIGKILL with the same arguments. One
 * kill at a time per process (a second one while the first restarts is
 * skipped), and nothing starts once `stop()` was called.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private restarting: Promise<void> | undefined;
  private stopped = false;
  kills = 0;
  /** When each SIGKILL was sent (epoch ms). */
  readonly killedAt: number[] = [];

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    /** When set, every line the process writes (its logs, on stdout) is appended here, for post-mortems. */
    private readonly logFile?: string,
  ) {}

  start(): void {
    if (this.stopped) return;
    const child = spawn(process.execPath, this.args, {
      env: { ...process.env, LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'error', WARREN_LOG_PRETTY: '0', ...this.env },
      stdio: ['ignore', this.logFile ? 'pipe' : 'ignore', 'pipe'],
    });
    const logFile = this.logFile;
    if (logFile) {
      const append = (text: string | Buffer) => {
        try {
          appendFileSync(logFile, text);
        } catch {
          // the run is over and its logs removed: nothing to keep
        }
      };
      append(`--- ${new Date().toISOString()} started pid ${child.pid}\n`);
      child.stdout?.on('data', append);
    }
    // Errors a process prints go to our stderr, prefixed, for post-mortems.
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(`  [${this.name}] ${line.slice(0, 300)}\n`);
    });
    this.child = child;
    children.add(child);
    child.once('exit', () => children.delete(child));
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, wait for the exit, start again after `downMs`. A no-op while the previous kill is restarting. */
  killAndRestart(downMs: number): Promise<void> {
    if (this.restarting !== undefined || this.stopped) return Promise.resolve();
    this.kills++;
    this.killedAt.push(Date.now());
    this.restarting = (async () => {
      await this.signal('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, downMs));
      this.start();
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  /** Restarts a process that died on its own (counted; it should not happen). */
  restartIfDead(): boolean {
    if (this.alive || this.child === undefined) return false;
    this.start();
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.restarting;
    await this.signal('SIGTERM', 15_000);
  }

  private async signal(signal: NodeJS.Signals, timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
