import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NonRetryableError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { jobHeaders } from '../../src/message/headers.ts';
import { defineWorker, Worker } from '../../src/worker/index.ts';
import { createScenario, depth, DLQ, drain, peekIds, publishDeadLetters, runWarren, settledDepth, spawnWarren, WORK_QUEUE, type DlqScenario } from './dlq-fixtures.ts';

// A real worker fills its DLQ; after the "fix", replay brings back exactly the
// chosen jobs, each processed once, also when replay is SIGKILLed midway.
describe('dlq replay with a real worker', () => {
  let s: DlqScenario;
  let worker: Worker;
  const broken = new Set<string>();
  /** Successful handler runs per job id: the effect a job must have exactly once. */
  const effects = new Map<string, number>();

  beforeAll(async () => {
    s = await createScenario('dlq-worker');
    const definition = defineWorker({
      consumer: 'billing',
      schema: z.object({ id: z.string() }),
      handle: (payload, ctx) => {
        if (broken.has(ctx.jobType ?? '')) throw new NonRetryableError(`${ctx.jobType} handler is broken`);
        effects.set(payload.id, (effects.get(payload.id) ?? 0) + 1);
      },
    });
    worker = new Worker([definition], s.plan, { urls: [s.vhost.url], logger: createLogger('test', { level: 'silent', pretty: false }), workerId: 'dlq-test' });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await s?.cleanup();
  });

  it('replays exactly the jobs of the fixed type, once each; the others stay in the DLQ in their relative order', async () => {
    broken.add('paid').add('refunded');
    const types = ['created', 'paid', 'refunded'];
    const ids = Array.from({ length: 60 }, (_, i) => ({ id: `w-${String(i).padStart(2, '0')}`, type: types[i % 3] ?? 'created' }));
    for (const job of ids) {
      const headers = jobHeaders({ exchange: 'shop', routingKey: `order.${job.type}`, now: new Date() });
      s.channel.publish('shop', `order.${job.type}`, Buffer.from(JSON.stringify({ id: job.id })), {
        persistent: true, contentType: 'application/json', messageId: job.id, type: job.type, headers,
      });
    }
    await s.channel.waitForConfirms();
    await waitFor(async () => (await depth(s.connection, DLQ)) === 40 && effects.size === 20);
    const dlqBefore = await peekIds(s.connection, DLQ);

    broken.delete('paid');
    const result = await runWarren(['dlq', 'replay', DLQ, '--filter', 'jobType=paid', '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ replayed: 20, skipped: 20, failed: 0 });
    const paid = ids.filter((j) => j.type === 'paid').map((j) => j.id);
    await waitFor(async () => paid.every((id) => effects.has(id)) && (await depth(s.connection, WORK_QUEUE)) === 0);
    expect(paid.map((id) => effects.get(id))).toEqual(paid.map(() => 1));
    expect(ids.filter((j) => j.type === 'refunded').some((j) => effects.has(j.id))).toBe(false);
    const refundedInDlqOrder = dlqBefore.filter((id) => ids.find((j) => j.id === id)?.type === 'refunded');
    expect((await drain(s.connection, DLQ)).map((m) => m.id)).toEqual(refundedInDlqOrder);
    broken.clear();
  });

  it('a replay SIGKILLed midway and run again processes all 5,000 exactly once and empties the DLQ', async () => {
    const jobs = Array.from({ length: 5_000 }, (_, i) => ({ id: `c-${i}`, type: 'created', errorClass: 'Outage', errorMessage: 'db down' }));
    await publishDeadLetters(s.channel, jobs);
    expect(await depth(s.connection, DLQ)).toBe(5_000);

    // Paced so that the kill lands in the middle, whatever the machine's speed.
    const child = spawnWarren(['dlq', 'replay', DLQ, '--rate', '1000/s', '--json', '--topology', s.topologyFile], s.vhost.url);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(async () => countOf(jobs) >= 1_000, 30_000);
    child.kill('SIGKILL');
    await exited;
    const leftAfterKill = await settledDepth(s.vhost.vhost, DLQ);
    expect(leftAfterKill).toBeGreaterThan(0);
    expect(leftAfterKill).toBeLessThan(5_000);

    const rerun = await runWarren(['dlq', 'replay', DLQ, '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ replayed: leftAfterKill, failed: 0 });
    await waitFor(async () => countOf(jobs) === 5_000 && (await depth(s.connection, WORK_QUEUE)) === 0, 30_000);
    expect(await depth(s.connection, DLQ)).toBe(0);
    const counts = jobs.map((j) => effects.get(j.id) ?? 0);
    expect(counts.filter((n) => n !== 1)).toEqual([]);
  }, 240_000);

  function countOf(jobs: Array<{ id: string }>): number {
    return jobs.reduce((n, j) => n + (effects.has(j.id) ? 1 : 0), 0);
  }
});

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
