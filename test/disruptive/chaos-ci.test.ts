import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The CI variant of the failure suite: `test/chaos/run.ts --ci` (1,200
 * orders) as a child process on a private RabbitMQ node of its own — it
 * restarts that broker, so it never touches the shared one. Every check of
 * the run must pass and the summary must show the failures really happened.
 */
interface ChaosSummary {
  ok: boolean;
  posted: number;
  accepted: number;
  refused: number;
  effectsExpected: number;
  effectRows: number;
  poisonAccepted: number;
  deadLetters: number;
  workerKills: number;
  producerKills: number;
  brokerRestarts: number;
  orderedPairs: number;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

let running: ChildProcess | undefined;

// A run cut short by the test's timeout is told to stop (SIGTERM: it kills its processes and its broker on the way out).
afterAll(async () => {
  const child = running;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}, 120_000);

function runChaos(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/chaos/run.ts', '--ci'], { stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('chaos (CI variant)', () => {
  it('counts every order through worker and producer SIGKILLs, a broker restart and poison orders', async () => {
    const { code, stdout, stderr } = await runChaos();
    const line = stdout.split('\n').find((l) => l.startsWith('CHAOS SUMMARY '));
    expect(line, `no summary; stderr tail:\n${stderr.slice(-3000)}`).toBeDefined();
    const summary = JSON.parse((line as string).slice('CHAOS SUMMARY '.length)) as ChaosSummary;
    expect(summary.checks.filter((c) => !c.ok)).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(code).toBe(0);
    // The run really was under fire, and really counted something.
    expect(summary.posted).toBeGreaterThanOrEqual(1_200);
    // Refusals (a 5xx or no answer through all retries) are allowed: they are known to the client.
    expect(summary.accepted + summary.refused).toBe(summary.posted);
    expect(summary.accepted).toBeGreaterThan(0);
    expect(summary.effectRows).toBe(summary.effectsExpected);
    // A worker killed between its DLQ publish and its ack dead-letters the job again: copies are allowed, loss is not.
    expect(summary.deadLetters).toBeGreaterThanOrEqual(summary.poisonAccepted * 6);
    expect(summary.workerKills).toBeGreaterThan(3);
    expect(summary.producerKills).toBe(1);
    expect(summary.brokerRestarts).toBe(1);
    expect(summary.orderedPairs).toBeGreaterThan(0);
  }, 480_000);
});
