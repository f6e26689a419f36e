import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { defineStreamWorker, startStreamWorker, type RunningStreamWorker, type StreamWorkerEvent } from '../../src/streams/stream-worker.ts';
import { GroupStore } from '../../src/streams/group-store.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf } from '../fixtures/workers/_support.ts';
import { databaseUrl, GROUPS_TOPOLOGY, ledgerProblems, publishTicks, spawnMember, testTables, until } from '../support/stream-groups.ts';

const plan = planOf(readFileSync(GROUPS_TOPOLOGY, 'utf8'));

// Each test gets a vhost (so a stream) of its own: a group starting at `first` reads only that test's events.
let vhost: TestVhost;
let client: JobClient;
let tables: Awaited<ReturnType<typeof testTables>>;
const running: RunningStreamWorker[] = [];

beforeAll(async () => {
  tables = await testTables();
});

beforeEach(async () => {
  vhost = await createTestVhost('streams-groups');
  await declarePlanAt(vhost.url, plan);
  client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
});

afterEach(async () => {
  for (const worker of running.splice(0)) await worker.stop().catch(() => undefined);
  await client?.close();
  await vhost?.cleanup();
});

afterAll(async () => {
  await tables?.drop();
});

/** An in-process member writing each record into `ledger` in the batch's transaction. */
async function member(group: string, ledger: string, options: { id: string; slowMs?: number; onEvent?: (e: StreamWorkerEvent) => void }) {
  const worker = await startStreamWorker(
    defineStreamWorker<{ key: string; seq: number }>({
      stream: 'ticks',
      group,
      batch: { size: 50, maxWaitMs: 50 },
      async handleBatch(records, ctx) {
        for (const record of records) {
          await ctx.tx.query(
            `INSERT INTO ${ledger} (event_id, key, seq, partition, stream_offset, member, generation) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [record.id, record.payload.key, record.payload.seq, record.partition, record.offset, ctx.member, ctx.generation],
          );
        }
        if (options.slowMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.slowMs));
      },
    }),
    {
      plan,
      amqpUrls: [vhost.url],
      databaseUrl: databaseUrl(),
      tablePrefix: tables.prefix,
      memberId: options.id,
      heartbeatMs: 200,
      sessionTimeoutMs: 1_500,
      ...(options.onEvent !== undefined && { onEvent: options.onEvent }),
    },
  );
  running.push(worker);
  return worker;
}

const count = async (ledger: string) => Number((await tables.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${ledger}`)).rows[0]?.n);

describe('consumer groups', () => {
  it('two groups on one stream progress independently: a slow group lags without holding the fast one back', async () => {
    const fastLedger = await tables.ledger('fast');
    const slowLedger = await tables.ledger('slow');
    await publishTicks(client, 400, 40);
    const fast = await member('fast', fastLedger, { id: 'fast-1' });
    const slow = await member('slow', slowLedger, { id: 'slow-1', slowMs: 400 });
    await until('the fast group applied everything', async () => (await count(fastLedger)) === 400, 30_000);
    expect(await count(slowLedger)).toBeLessThan(400);
    await until('the slow group applied everything', async () => (await count(slowLedger)) === 400, 60_000);
    for (const ledger of [fastLedger, slowLedger]) {
      expect(await ledgerProblems(tables.db, ledger, 400)).toEqual({ rows: 400, distinct: 400, outOfOrderKeys: 0 });
    }
    await fast.stop();
    await slow.stop();
  });

  it('fencing: a paused member that lost its partitions cannot commit the batch it held', async () => {
    const ledger = await tables.ledger('fencing');
    const a = spawnMember({
      AMQP_URL: vhost.url,
      DATABASE_URL: databaseUrl(),
      TABLE_PREFIX: tables.prefix,
      GROUP: 'fencing',
      LEDGER: ledger,
      MEMBER_ID: 'a-paused',
      SLOW_MS: '1500',
    });
    try {
      await a.waitFor('started');
      await publishTicks(client, 200, 20);
      // A is inside a batch (its rows inserted, not committed), sleeping 1.5 s before the commit: freeze it there.
      const held = await a.waitFor('batch');
      a.child.kill('SIGSTOP');
      const events: StreamWorkerEvent[] = [];
      const b = await member('fencing', ledger, { id: 'b-live', onEvent: (event) => events.push(event) });
      // B takes every partition once A's session expires, and applies everything (A's held batch included).
      await until('B applied all 200 events', async () => (await count(ledger)) === 200, 30_000);
      await until('B owns every partition', async () => b.owned().length === 4, 15_000);
      expect(events.filter((e) => e.kind === 'assigned').map((e) => e.partition).sort()).toEqual([0, 1, 2, 3]);
      a.child.kill('SIGCONT');
      // A wakes up inside its batches: each commit finds another generation and rolls back.
      await a.waitFor('fenced', 15_000);
      await until('A reports the held partition fenced', async () => a.lines.some((l) => l.kind === 'fenced' && l.partition === held.partition), 15_000);
      // A's held batch never committed: still exactly once, nothing from A's old generation.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await ledgerProblems(tables.db, ledger, 200)).toEqual({ rows: 200, distinct: 200, outOfOrderKeys: 0 });
      const fromA = await tables.db.query(`SELECT count(*) AS n FROM ${ledger} WHERE member = 'a-paused'`);
      expect(Number(fromA.rows[0]?.n)).toBe(0);
      const store = new GroupStore({ url: databaseUrl(), tablePrefix: tables.prefix });
      const rows = await store.partitions({ stream: 'ticks', group: 'fencing' });
      await store.close();
      expect(rows.every((row) => row.committed !== null)).toBe(true);
      await b.stop();
    } finally {
      a.child.kill('SIGKILL');
      await a.exited;
    }
  });
});
