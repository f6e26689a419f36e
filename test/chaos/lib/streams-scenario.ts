/**
 * The streams chaos scenario (issue 15): N events over the 4 partitions of
 * test/fixtures/topology/streams-groups.yaml with K keys, consumed by a
 * group of 3 member processes (test/fixtures/streams/member.ts) that write
 * a PostgreSQL ledger in each batch's transaction. While events are being
 * published and consumed, one member is SIGKILLed and one SIGTERMed, each
 * restarted (under a new member id). Then: every event applied exactly once,
 * each key's events in order, and no (partition, generation) committed by
 * two members. Used by test/integration/streams-chaos.test.ts (10,000
 * events) and `npm run chaos -- --streams` (100,000).
 */
import { readFileSync } from 'node:fs';
import { createJobClient } from '../../../src/client/index.ts';
import { declarePlanAt } from '../../../src/topology/declare.ts';
import { parseTopology } from '../../../src/topology/load.ts';
import { createTestVhost } from '../../support/broker.ts';
import { databaseUrl, GROUPS_TOPOLOGY, ledgerProblems, publishTicks, spawnMember, testTables, until, type MemberProcess } from '../../support/stream-groups.ts';

export interface StreamsChaosOptions {
  events: number;
  keys: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Per-batch sleep in the members, so a short run lasts long enough to kill mid-run. */
  slowMs?: number;
}

export interface StreamsChaosReport {
  events: number;
  rows: number;
  distinct: number;
  outOfOrderKeys: number;
  /** (partition, generation) pairs whose rows came from more than one member. */
  sharedGenerations: number;
  killedAt: number;
  terminatedAt: number;
  members: string[];
  seconds: number;
}

export async function runStreamsChaos(options: StreamsChaosOptions): Promise<StreamsChaosReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const parsed = parseTopology(readFileSync(GROUPS_TOPOLOGY, 'utf8'), GROUPS_TOPOLOGY);
  if (!parsed.ok) throw new Error('bad streams topology');
  const plan = parsed.value.plan;
  const vhost = await createTestVhost('streams-chaos');
  const tables = await testTables();
  const members: MemberProcess[] = [];
  try {
    await declarePlanAt(vhost.url, plan);
    const ledger = await tables.ledger('chaos');
    const spawn = (id: string) => {
      const member = spawnMember({
        AMQP_URL: vhost.url,
        DATABASE_URL: databaseUrl(),
        TABLE_PREFIX: tables.prefix,
        GROUP: 'chaos',
        LEDGER: ledger,
        MEMBER_ID: id,
        BATCH: '200',
        SLOW_MS: String(options.slowMs ?? 10),
      });
      members.push(member);
      return member;
    };
    const count = async () => Number((await tables.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${ledger}`)).rows[0]?.n);
    const [m1, m2] = [spawn('m1'), spawn('m2'), spawn('m3')];
    for (const member of members) await member.waitFor('started');
    log('3 members started');

    // Published in three parts, so each kill lands with events still to publish and to apply.
    const client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
    const parts = [0.3, 0.6, 1].map((share) => Math.floor(options.events * share));
    const publishing = (async () => {
      let from = 0;
      for (const [index, to] of parts.entries()) {
        if (index === 1) await until('m1 killed and restarted', async () => killed, 300_000);
        if (index === 2) await until('m2 terminated and restarted', async () => terminated, 300_000);
        await publishTicks(client, to - from, options.keys, from);
        from = to;
      }
    })().finally(() => client.close());
    let killed = false;
    let terminated = false;
    publishing.catch(() => undefined);

    await until('15% applied', async () => (await count()) >= options.events * 0.15, 300_000);
    const killedAt = await count();
    m1?.child.kill('SIGKILL');
    await m1?.exited;
    log(`SIGKILLed m1 at ${killedAt} applied`);
    await spawn('m1-restarted').waitFor('started');
    killed = true;

    await until('45% applied', async () => (await count()) >= options.events * 0.45, 300_000);
    const terminatedAt = await count();
    m2?.child.kill('SIGTERM');
    const code = await m2?.exited;
    log(`SIGTERMed m2 at ${terminatedAt} applied (exit ${code})`);
    await spawn('m2-restarted').waitFor('started');
    terminated = true;

    await publishing;
    log(`published ${options.events}`);
    await until(`all ${options.events} applied`, async () => (await count()) >= options.events, 600_000);
    // Anything applied twice would land after the last one: give stragglers a moment.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const problems = await ledgerProblems(tables.db, ledger);
    const shared = await tables.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT partition, generation FROM ${ledger} GROUP BY partition, generation HAVING count(DISTINCT member) > 1) AS s`,
    );
    const applying = await tables.db.query<{ member: string }>(`SELECT DISTINCT member FROM ${ledger} ORDER BY member`);
    return {
      events: options.events,
      ...problems,
      sharedGenerations: Number(shared.rows[0]?.n),
      killedAt,
      terminatedAt,
      members: applying.rows.map((row) => row.member),
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const member of members) member.child.kill('SIGKILL');
    await Promise.all(members.map((member) => member.exited));
    await tables.drop();
    await vhost.cleanup();
  }
}
