import { readFileSync } from 'node:fs';
import { connect, type GetMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { parseSelection } from '../../src/dlq/filter.ts';
import { replayDeadLetters } from '../../src/dlq/replay.ts';
import { replayRouteFor } from '../../src/dlq/replay-target.ts';
import type { ReplaySummary } from '../../src/dlq/report.ts';
import { withDeadLetterQueue } from '../../src/dlq/service.ts';
import { STREAM_HEADERS } from '../../src/streams/group-dlq.ts';
import { defineStreamWorker, startStreamWorker, type EventRecord, type RunningStreamWorker, type StreamWorkerEvent } from '../../src/streams/stream-worker.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf } from '../fixtures/workers/_support.ts';
import { databaseUrl, GROUPS_TOPOLOGY, publishTicks, testTables, until } from '../support/stream-groups.ts';

// Issue 15, poison records: a group's dead letter replayed with `dlq replay <stream>.<group>.dlq`
// goes back into the stream, to its partition, and is applied by that group only, once.
const plan = planOf(readFileSync(GROUPS_TOPOLOGY, 'utf8'));
// Group offsets are keyed by (stream, group), not by vhost: each test's groups have names of their own.

let vhost: TestVhost;
let client: JobClient;
let tables: Awaited<ReturnType<typeof testTables>>;
const running: RunningStreamWorker[] = [];
const ledgers: string[] = [];

beforeAll(async () => {
  tables = await testTables();
});

beforeEach(async () => {
  vhost = await createTestVhost('streams-dlq-replay');
  await declarePlanAt(vhost.url, plan);
  client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
});

afterEach(async () => {
  for (const worker of running.splice(0)) await worker.stop().catch(() => undefined);
  await client?.close();
  await vhost?.cleanup();
});

afterAll(async () => {
  for (const ledger of ledgers) await tables?.db.query(`DROP TABLE IF EXISTS ${ledger}`);
  await tables?.drop();
});

/** A ledger of applied records: one row per record a group's handler applied (in the offset's transaction). */
async function ledger(name: string): Promise<string> {
  const table = `${tables.prefix}${name}`;
  await tables.db.query(
    `CREATE TABLE ${table} (applied bigserial PRIMARY KEY, event_id text NOT NULL, key text NOT NULL, seq int NOT NULL,
       partition int NOT NULL, stream_offset bigint NOT NULL, replay_of bigint)`,
  );
  ledgers.push(table);
  return table;
}

type Tick = { key: string; seq: number };

/** A member of `group` writing every record it applies into `table`; `fails(record)` throws for a poison record. */
async function member(group: string, table: string, fails: (record: EventRecord<Tick>) => boolean = () => false, onEvent?: (e: StreamWorkerEvent) => void) {
  const worker = await startStreamWorker(
    defineStreamWorker<Tick>({
      stream: 'ticks',
      group,
      batch: { size: 10, maxWaitMs: 50 },
      retry: { attempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
      async handleBatch(records, ctx) {
        for (const record of records) {
          if (fails(record)) throw new TypeError(`cannot apply ${record.payload.key} #${record.payload.seq}`);
          await ctx.tx.query(`INSERT INTO ${table} (event_id, key, seq, partition, stream_offset, replay_of) VALUES ($1, $2, $3, $4, $5, $6)`, [
            record.id,
            record.payload.key,
            record.payload.seq,
            record.partition,
            record.offset,
            record.replayOf?.offset ?? null,
          ]);
        }
      },
    }),
    { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix, heartbeatMs: 200, sessionTimeoutMs: 1_500, ...(onEvent && { onEvent }) },
  );
  running.push(worker);
  return worker;
}

const count = async (table: string, where = 'true') => Number((await tables.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)).rows[0]?.n);

/** The group's committed offset on `partition` (-1 when none). */
async function committed(group: string, partition: number): Promise<number> {
  const result = await tables.db.query<{ o: string | null }>(`SELECT committed_offset AS o FROM ${tables.prefix}stream_offsets WHERE stream = 'ticks' AND grp = $1 AND partition = $2`, [group, partition]);
  const value = result.rows[0]?.o;
  return value === undefined || value === null ? -1 : Number(value);
}

/** `warren dlq replay <DLQ> --topology …`, through the service the CLI and HTTP use. */
function replay(DLQ: string): Promise<ReplaySummary> {
  const context = { amqpUrls: [vhost.url], plan };
  const route = replayRouteFor(plan, DLQ);
  return withDeadLetterQueue(context, DLQ, ({ broker, openPublisher }) => replayDeadLetters(broker, openPublisher, DLQ, { route, selection: parseSelection({ filters: [] }) }));
}

async function dlqDepth(DLQ: string): Promise<number> {
  const connection = await connect(vhost.url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(DLQ)).messageCount;
  } finally {
    await connection.close();
  }
}

/** Copies of the DLQ's first message into the DLQ, with `headers` over its own. */
async function copyDeadLetter(DLQ: string, copies: Array<Record<string, unknown>>): Promise<void> {
  const connection = await connect(vhost.url);
  try {
    const channel = await connection.createConfirmChannel();
    const message: GetMessage | false = await channel.get(DLQ, { noAck: false });
    if (message === false) throw new Error('the DLQ is empty');
    for (const headers of copies) {
      channel.sendToQueue(DLQ, message.content, { ...message.properties, headers: { ...message.properties.headers, ...headers } });
    }
    await channel.waitForConfirms();
    channel.nack(message, false, true);
  } finally {
    await connection.close();
  }
}

describe('replaying a group DLQ', () => {
  it('puts the record back into its partition for that group only: applied once there, skipped by every other group, DLQ empty', async () => {
    const DLQ = 'ticks.billing.dlq';
    const billing = await ledger('billing');
    const audit = await ledger('audit');
    let broken = true;
    const poison = (record: EventRecord<Tick>) => broken && record.payload.key === 'k-3' && record.payload.seq === 2;
    const events: StreamWorkerEvent[] = [];
    await member('billing', billing, poison, (e) => events.push(e));
    await member('audit', audit);
    await publishTicks(client, 40, 10);
    await until('billing applied 39, audit 40', async () => (await count(billing)) === 39 && (await count(audit)) === 40, 30_000);
    const dead = events.find((e) => e.kind === 'dead-lettered');
    if (dead?.kind !== 'dead-lettered') throw new Error('nothing dead-lettered');
    expect(await dlqDepth(DLQ)).toBe(1);

    // Beside the real dead letter: one another group failed, and one with no partition of "ticks".
    await copyDeadLetter(DLQ, [{ [STREAM_HEADERS.group]: 'audit' }, { [STREAM_HEADERS.partition]: 9 }]);
    await until('3 dead letters', async () => (await dlqDepth(DLQ)) === 3, 10_000);

    broken = false;
    const summary = await replay(DLQ);
    expect(summary).toMatchObject({ replayed: 1, failed: 2, target: { kind: 'group', exchange: 'ticks', group: 'billing' } });
    expect(summary.failures.map((f) => f.reason).sort()).toEqual([
      expect.stringMatching(/^dead-lettered by group "audit", not by "billing"/),
      expect.stringMatching(/^x-warren-stream-partition "9" is not a partition of "ticks" \(0…3\)/),
    ]);

    // Billing applies it once, in the partition it came from, as a replay of the offset it failed at, with its id.
    await until('billing applied the replayed record', async () => (await count(billing)) === 40, 30_000);
    const row = (await tables.db.query<{ event_id: string; partition: number; stream_offset: string; replay_of: string }>(`SELECT * FROM ${billing} WHERE key = 'k-3' AND seq = 2`)).rows;
    expect(row).toHaveLength(1);
    expect(row[0]).toMatchObject({ event_id: 'e-13', partition: dead.partition, replay_of: String(dead.offset) });
    const replayedAt = Number(row[0]?.stream_offset);
    expect(replayedAt).toBeGreaterThan(dead.offset);

    // Audit read past the replayed record (committed beyond it) without applying it again.
    await until('audit committed past the replayed record', async () => (await committed('audit', dead.partition)) >= replayedAt, 30_000);
    expect(await count(audit)).toBe(40);
    expect(await count(audit, `event_id = 'e-13'`)).toBe(1);
    // A group started now from `first` reads the whole partition, replay included, and skips it too.
    const late = await ledger('late');
    await member('late', late);
    await until('late read everything and committed past the replayed record', async () => (await count(late)) >= 40 && (await committed('late', dead.partition)) >= replayedAt, 30_000);
    expect(await count(late)).toBe(40);
    expect(await count(late, 'replay_of IS NOT NULL')).toBe(0);

    // Only the two refused dead letters are left; a second pass replays nothing, applies nothing.
    expect(await dlqDepth(DLQ)).toBe(2);
    const again = await replay(DLQ);
    expect(again).toMatchObject({ replayed: 0, failed: 2 });
    await until('billing committed past everything', async () => (await committed('billing', dead.partition)) >= replayedAt, 10_000);
    expect(await count(billing)).toBe(40);
    expect(await count(billing, `event_id = 'e-13'`)).toBe(1);
  });

  it('once per stream record: a dead letter in the DLQ twice (a replay killed between confirm and ack) is applied twice, same id', async () => {
    const DLQ = 'ticks.payments.dlq';
    const billing = await ledger('payments');
    let broken = true;
    await member('payments', billing, (record) => broken && record.payload.key === 'k-1' && record.payload.seq === 1);
    await publishTicks(client, 20, 5);
    await until('billing applied 19', async () => (await count(billing)) === 19, 30_000);
    await until('1 dead letter', async () => (await dlqDepth(DLQ)) === 1, 10_000);
    // What a replay killed after the broker confirmed its copy, before the DLQ ack, leaves behind
    // (the copy in the stream and the dead letter still in the DLQ) is, for the group, the same as a dead letter held twice.
    await copyDeadLetter(DLQ, [{}]);
    await until('2 dead letters', async () => (await dlqDepth(DLQ)) === 2, 10_000);
    broken = false;
    expect(await replay(DLQ)).toMatchObject({ replayed: 2, failed: 0 });
    await until('both copies applied', async () => (await count(billing)) === 21, 30_000);
    const copies = (await tables.db.query<{ event_id: string; stream_offset: string }>(`SELECT event_id, stream_offset FROM ${billing} WHERE replay_of IS NOT NULL ORDER BY applied`)).rows;
    // Two stream records, each applied once by its offset commit; the shared id is how a handler tells them apart.
    expect(copies.map((c) => c.event_id)).toEqual(['e-1', 'e-1']);
    expect(new Set(copies.map((c) => c.stream_offset)).size).toBe(2);
    expect(await dlqDepth(DLQ)).toBe(0);
  });

  it('a partition gone from the broker fails its dead letters one by one (mandatory): they stay in the DLQ', async () => {
    const DLQ = 'ticks.shipping.dlq';
    const shipping = await ledger('shipping');
    const events: StreamWorkerEvent[] = [];
    const worker = await member('shipping', shipping, (record) => record.payload.key === 'k-2' && record.payload.seq === 1, (e) => events.push(e));
    await publishTicks(client, 10, 5);
    await until('1 dead letter', async () => (await dlqDepth(DLQ)) === 1, 30_000);
    const dead = events.find((e) => e.kind === 'dead-lettered');
    if (dead?.kind !== 'dead-lettered') throw new Error('nothing dead-lettered');
    await worker.stop();
    const connection = await connect(vhost.url);
    try {
      await (await connection.createChannel()).deleteQueue(`ticks.p${dead.partition}`);
    } finally {
      await connection.close();
    }
    const summary = await replay(DLQ);
    expect(summary).toMatchObject({ replayed: 0, failed: 1 });
    expect(summary.failures[0]?.reason).toMatch(/^unroutable: no queue bound for it \(returned by exchange "ticks"\)/);
    expect(await dlqDepth(DLQ)).toBe(1);
  });
});
