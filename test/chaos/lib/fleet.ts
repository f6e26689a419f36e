import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/**
 * The processes under fire: the producer and one worker process per
 * consumer, each restartable after a SIGKILL with the same arguments.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  kills = 0;

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    /** When set, every line the process writes (its logs, on stdout) is appended here, for post-mortems. */
    private readonly logFile?: string,
  ) {}

  start(): void {
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
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, wait for the exit, start again after `downMs`. */
  async killAndRestart(downMs: number): Promise<void> {
    this.kills++;
    await this.signal('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, downMs));
    this.start();
  }

  /** Restarts a process that died on its own (counted; it should not happen). */
  restartIfDead(): boolean {
    if (this.alive || this.child === undefined) return false;
    this.start();
    return true;
  }

  async stop(): Promise<void> {
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
