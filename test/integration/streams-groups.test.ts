import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'amqplib';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { defineStreamWorker, startStreamWorker, type RunningStreamWorker, type StreamWorkerEvent } from '../../src/streams/stream-worker.ts';
import { GroupStore } from '../../src/streams/group-store.ts';
import { StreamConnection } from '../../src/broker/stream-consumer.ts';
import { firstOffset } from '../../src/streams/positions.ts';
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
async function member(group: string, ledger: string, options: { id: string; slowMs?: number; stream?: string; onEvent?: (e: StreamWorkerEvent) => void }) {
  const worker = await startStreamWorker(
    defineStreamWorker<{ key: string; seq: number }>({
      stream: options.stream ?? 'ticks',
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
      expect(await ledgerProblems(tables.db, ledger)).toEqual({ rows: 400, distinct: 400, outOfOrderKeys: 0 });
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
      // Long enough that the SIGSTOP lands inside the batch even on a loaded machine.
      SLOW_MS: '6000',
    });
    try {
      await a.waitFor('started');
      await publishTicks(client, 200, 20);
      // A is inside a batch (its rows inserted, not committed), sleeping 6 s before the commit: freeze it there.
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
      expect(await ledgerProblems(tables.db, ledger)).toEqual({ rows: 200, distinct: 200, outOfOrderKeys: 0 });
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

const run = promisify(execFile);

/** `warren stream …` against this test's vhost and tables. */
async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/warren.js', 'stream', ...args, '--topology', GROUPS_TOPOLOGY, '--stream', 'ticks', '--table-prefix', tables.prefix], {
    env: { ...process.env, AMQP_URL: vhost.url, DATABASE_URL: databaseUrl() },
  });
  return stdout;
}

describe('replay and retention', () => {
  it('reset to a time: the live group re-reads from the first record published at or after it, and not the chunk\'s earlier ones', async () => {
    const ledger = await tables.ledger('replay');
    const worker = await member('replay', ledger, { id: 'r-1' });
    await publishTicks(client, 100, 100);
    // Timestamps are whole seconds: the reset time is in a later second than every first-half event.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const at = new Date();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await publishTicks(client, 100, 100, 100);
    await until('200 applied', async () => (await count(ledger)) === 200, 30_000);
    const status = JSON.parse(await cli('status', '--group', 'replay', '--json')) as { partitions: Array<{ lag: number; committed: number; end: number }> };
    expect(status.partitions.map((p) => p.lag)).toEqual([0, 0, 0, 0]);

    const dry = JSON.parse(await cli('reset', '--group', 'replay', '--to', at.toISOString(), '--dry-run', '--json')) as {
      partitions: Array<{ partition: number; restartAt: number; firstTimestamp: string }>;
    };
    expect(dry.partitions).toHaveLength(4);
    for (const row of dry.partitions) expect(Date.parse(row.firstTimestamp)).toBeGreaterThanOrEqual(Math.floor(at.getTime() / 1000) * 1000);
    expect(await count(ledger)).toBe(200);

    const text = await cli('reset', '--group', 'replay', '--to', at.toISOString());
    expect(text).toMatch(/partition 0: committed \d+ -> \d+, restarts at \d+/);
    // The second half is applied again (the documented effect of a replay), the first half is not.
    await until('the second half re-applied', async () => (await count(ledger)) === 300, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const twice = await tables.db.query<{ event_id: string }>(`SELECT event_id FROM ${ledger} GROUP BY event_id HAVING count(*) = 2`);
    expect(twice.rows.map((r) => Number(r.event_id.slice(2))).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
    expect(await count(ledger)).toBe(300);
    await worker.stop();
  });

  it('reports retention that removed records past the committed offset, and goes on from the first retained one', async () => {
    const ledger = await tables.ledger('retention');
    const events: StreamWorkerEvent[] = [];
    const publishTiny = async (from: number, n: number) => {
      for (let i = from; i < from + n; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, from + n - i) }, (_, j) =>
            client.publishEvent('tiny', { key: 'k', seq: i + j + 1, pad: 'x'.repeat(200) }, { idempotencyKey: `e-${i + j}` }),
          ),
        );
      }
    };
    await publishTiny(0, 20);
    let worker = await member('retention', ledger, { id: 'ret-1', stream: 'tiny', onEvent: (e) => events.push(e) });
    await until('20 applied', async () => (await count(ledger)) === 20, 30_000);
    await worker.stop();
    // While the group is away, far more than 20 kB arrive: whole old segments are removed.
    await publishTiny(20, 600);
    // Retention runs when a write rolls a segment, asynchronously: wait until the group's record is gone.
    const store = new GroupStore({ url: databaseUrl(), tablePrefix: tables.prefix });
    const committed = (await store.partitions({ stream: 'tiny', group: 'retention' }))[0]?.committed ?? -1;
    await store.close();
    const reader = await StreamConnection.open([vhost.url], 'test-retention');
    await until('retention removed the committed record', async () => ((await firstOffset(reader, 'tiny.p0', 300)) ?? 0) > committed + 1, 30_000).finally(() =>
      reader.close(),
    );
    worker = await member('retention', ledger, { id: 'ret-2', stream: 'tiny', onEvent: (e) => events.push(e) });
    await until('the retention loss reported', async () => events.some((e) => e.kind === 'retention-loss'), 30_000);
    const loss = events.find((e) => e.kind === 'retention-loss');
    expect(loss).toMatchObject({ kind: 'retention-loss', partition: 0 });
    if (loss?.kind === 'retention-loss') expect(loss.firstAvailable).toBeGreaterThan(loss.committed + 1);
    await until('the retained records applied', async () => {
      const last = await tables.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${ledger} WHERE event_id = 'e-619'`);
      return Number(last.rows[0]?.n) === 1;
    }, 30_000);
    expect(await count(ledger)).toBeLessThan(620);
    await worker.stop();
  });
});

describe('poison records', () => {
  it('a record that keeps failing goes to the group\'s DLQ with its context, and the partition goes on', async () => {
    const ledger = await tables.ledger('poison');
    const events: StreamWorkerEvent[] = [];
    const worker = await startStreamWorker(
      defineStreamWorker<{ key: string; seq: number }>({
        stream: 'ticks',
        group: 'poison',
        batch: { size: 10, maxWaitMs: 50 },
        retry: { attempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
        async handleBatch(records, ctx) {
          for (const record of records) {
            if (record.payload.key === 'k-3' && record.payload.seq === 2) throw new TypeError('cannot apply k-3 #2');
            await ctx.tx.query(
              `INSERT INTO ${ledger} (event_id, key, seq, partition, stream_offset, member, generation) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
              [record.id, record.payload.key, record.payload.seq, record.partition, record.offset, ctx.member, ctx.generation],
            );
          }
        },
      }),
      { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix, heartbeatMs: 200, sessionTimeoutMs: 1_500, onEvent: (e) => events.push(e) },
    );
    running.push(worker);
    await publishTicks(client, 40, 10);
    await until('39 applied', async () => (await count(ledger)) === 39, 30_000);
    const dead = events.filter((e) => e.kind === 'dead-lettered');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ queue: 'ticks.poison.dlq' });
    // k-3's later events were applied after it: the partition went on.
    const k3 = await tables.db.query<{ seq: number }>(`SELECT seq FROM ${ledger} WHERE key = 'k-3' ORDER BY applied`);
    expect(k3.rows.map((r) => r.seq)).toEqual([1, 3, 4]);
    const inspector = await connect(vhost.url);
    try {
      const channel = await inspector.createChannel();
      const message = await channel.get('ticks.poison.dlq', { noAck: false });
      expect(message).not.toBe(false);
      if (message === false) return;
      expect(JSON.parse(message.content.toString())).toEqual({ key: 'k-3', seq: 2 });
      expect(message.properties.headers).toMatchObject({
        'x-warren-reason': 'attempts-exhausted',
        'x-warren-error-class': 'TypeError',
        'x-warren-error-message': 'cannot apply k-3 #2',
        'x-warren-consumer': 'poison',
        'x-warren-stream-group': 'poison',
        'x-warren-stream-partition': dead[0]?.partition,
        'x-warren-stream-offset': dead[0]?.kind === 'dead-lettered' ? dead[0].offset : -1,
      });
      expect(message.properties.messageId).toBe('e-13');
      channel.nack(message, false, true);
    } finally {
      await inspector.close();
    }
  });
});

describe('commit modes', () => {
  it('with-effects applies a failed-then-retried batch once; after-batch keeps the failed attempt\'s writes (at-least-once)', async () => {
    const results: Record<string, { rows: number; distinct: number }> = {};
    await publishTicks(client, 40, 10);
    for (const commit of ['with-effects', 'after-batch'] as const) {
      const ledger = await tables.ledger(`mode_${commit.replace('-', '_')}`);
      let failed = false;
      const worker = await startStreamWorker(
        defineStreamWorker<{ key: string; seq: number }>({
          stream: 'ticks',
          group: `mode-${commit}`,
          commit,
          batch: { size: 10, maxWaitMs: 50 },
          retry: { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 },
          async handleBatch(records, ctx) {
            for (const record of records) {
              await ctx.tx.query(
                `INSERT INTO ${ledger} (event_id, key, seq, partition, stream_offset, member, generation) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
                [record.id, record.payload.key, record.payload.seq, record.partition, record.offset, ctx.member, ctx.generation],
              );
            }
            // The first batch fails once, after its writes.
            if (!failed) {
              failed = true;
              throw new Error('failed after writing');
            }
          },
        }),
        { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix, heartbeatMs: 200, sessionTimeoutMs: 1_500 },
      );
      running.push(worker);
      await until(`${commit}: every event applied`, async () => {
        const n = await tables.db.query<{ n: string }>(`SELECT count(DISTINCT event_id) AS n FROM ${ledger}`);
        return Number(n.rows[0]?.n) === 40;
      }, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { rows, distinct } = await ledgerProblems(tables.db, ledger);
      results[commit] = { rows, distinct };
      await worker.stop();
    }
    expect(results['with-effects']).toEqual({ rows: 40, distinct: 40 });
    expect(results['after-batch']?.distinct).toBe(40);
    expect(results['after-batch']?.rows).toBeGreaterThan(40);
  });
});
