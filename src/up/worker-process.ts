import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { redactText } from '../broker/urls.ts';

/**
 * One example worker as a child process of `warren up`:
 * `node bin/warren.js worker <consumer> --topology <file> --metrics-port <port>`,
 * its output appended to a log file so the terminal stays the live view.
 */
export interface WorkerProcessSpec {
  consumer: string;
  topologyFile: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  cwd: string;
}

const HEALTH_TIMEOUT_MS = 60_000;

export class WorkerProcess {
  private readonly exit: Promise<number | null>;
  private stopping: Promise<number | null> | undefined;

  private constructor(
    readonly consumer: string,
    readonly metricsUrl: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? null : 0))));
  }

  /** Spawns the worker and resolves once its `/healthz` answers 200 (it consumes). */
  static async start(spec: WorkerProcessSpec): Promise<WorkerProcess> {
    const port = await freePort();
    const log = openSync(spec.logFile, 'a');
    const args = [warrenBin(), 'worker', spec.consumer, '--topology', spec.topologyFile, '--metrics-port', String(port)];
    // Its own process group: a Ctrl-C in the terminal reaches `warren up`
    // only, which then stops each worker once, with SIGTERM.
    const child = spawn(process.execPath, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    trackUntilExit(child);
    const worker = new WorkerProcess(spec.consumer, `http://127.0.0.1:${port}`, spec.logFile, child);
    await worker.untilHealthy();
    return worker;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The exit code, once it has exited; `null` after a signal. */
  exited(): Promise<number | null> {
    return this.exit;
  }

  /** Prometheus text of `/metrics`; `undefined` if it does not answer. */
  async metrics(): Promise<string | undefined> {
    try {
      const response = await fetch(`${this.metricsUrl}/metrics`, { signal: AbortSignal.timeout(3_000) });
      return response.ok ? await response.text() : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM (the worker finishes or releases in-flight jobs), SIGKILL after the deadline. Safe to call twice. */
  stop(deadlineMs = 15_000): Promise<number | null> {
    this.stopping ??= (async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exit;
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), deadlineMs);
      try {
        return await this.exit;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }

  private async untilHealthy(): Promise<void> {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    let exited = false;
    void this.exit.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`worker ${this.consumer} exited while starting:\n${logTail(this.logFile)}`);
      try {
        const response = await fetch(`${this.metricsUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await this.stop(2_000);
    throw new Error(`worker ${this.consumer} was not healthy within ${HEALTH_TIMEOUT_MS / 1000} s:\n${logTail(this.logFile)}`);
  }
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A worker must not outlive `warren up`, even when it ends on an error: SIGTERM what is left on exit. */
function trackUntilExit(child: ChildProcess): void {
  if (!exitHookInstalled) process.once('exit', terminateRunning);
  exitHookInstalled = true;
  running.add(child);
  child.once('exit', () => running.delete(child));
}

function terminateRunning(): void {
  for (const child of running) child.kill('SIGTERM');
}

/** `bin/warren.js` of this checkout (the sources run through tsx from there). */
function warrenBin(): string {
  const bin = fileURLToPath(new URL('../../bin/warren.js', import.meta.url));
  return existsSync(bin) ? bin : (process.argv[1] ?? 'warren');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The last lines of a log, redacted, for error messages. */
export function logTail(file: string, lines = 15): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return redactText(text);
  } catch {
    return '(no log)';
  }
}
