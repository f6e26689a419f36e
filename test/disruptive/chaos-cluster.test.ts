import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The CI variant of the failure suite on a cluster: `test/chaos/run.ts
 * --cluster --ci` (1,000 orders at 40/s) as a child process, on a local
 * three-node cluster of its own (src/provision/cluster.ts) — it SIGKILLs the
 * node leading the most queues while orders are posted, so it never touches
 * the shared broker. Every check of the run must pass, and the summary must
 * show that the failures really happened.
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
  nodeKills: number;
  orderedPairs: number;
  nodeKillLog: Array<{ node: string; ledQueues: number; downMs: number }>;
  unsubscribedMs: Record<string, { totalMs: number; longestMs: number; spells: number }>;
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
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/chaos/run.ts', '--cluster', '--ci'], { stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('chaos on a three-node cluster (CI variant)', () => {
  it('processes every 202 once per consumer through a SIGKILL of the busiest node, worker and producer SIGKILLs and poison orders', async () => {
    const { code, stdout, stderr } = await runChaos();
    const line = stdout.split('\n').find((l) => l.startsWith('CHAOS SUMMARY '));
    expect(line, `no summary; stderr tail:\n${stderr.slice(-3000)}`).toBeDefined();
    const summary = JSON.parse((line as string).slice('CHAOS SUMMARY '.length)) as ChaosSummary;
    expect(summary.checks.filter((c) => !c.ok), stdout.slice(0, 4000)).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(code).toBe(0);
    // The cluster checks ran: every consumer subscribed again, seen through the management API.
    expect(summary.checks.map((c) => c.name)).toContain('every consumer subscribed again (management API)');
    // The run really was under fire, and really counted something.
    expect(summary.nodeKills).toBe(1);
    expect(summary.nodeKillLog[0]?.ledQueues).toBeGreaterThan(0);
    expect(summary.posted).toBeGreaterThanOrEqual(1_000);
    expect(summary.accepted + summary.refused).toBe(summary.posted);
    expect(summary.accepted).toBeGreaterThan(0);
    expect(summary.effectRows).toBe(summary.effectsExpected);
    expect(summary.deadLetters).toBeGreaterThanOrEqual(summary.poisonAccepted * 6);
    expect(summary.workerKills).toBeGreaterThan(0);
    expect(summary.producerKills).toBe(1);
    expect(summary.orderedPairs).toBeGreaterThan(0);
    expect(Object.keys(summary.unsubscribedMs).sort()).toEqual(['fraud-audit', 'inventory', 'loyalty', 'payments', 'recommendation', 'warehouse']);
  }, 600_000);
});
