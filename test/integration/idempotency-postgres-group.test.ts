import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimLostError, IdempotencyStoreError } from '../../src/idempotency/errors.ts';
import { PostgresIdempotencyStore, type PostgresStoreOptions } from '../../src/idempotency/postgres.ts';
import type { ClaimResult } from '../../src/idempotency/store.ts';

// Group commit: concurrent single-job claims of one store share transactions.
// Against the local PostgreSQL; fails loudly rather than skipping when there is none.
const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) throw new Error('DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test): the PostgreSQL group commit tests need a server');

const SUFFIX = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const TABLE = `warren_test_group_idem_${SUFFIX}`;
/** Each effect records the transaction it was written in. */
const EFFECTS = `warren_test_group_effects_${SUFFIX}`;
/** A deferred unique constraint is checked only at COMMIT: the way to make a group's COMMIT fail. */
const DEFERRED = `warren_test_group_deferred_${SUFFIX}`;
const LEASE = 30_000;
/** Wide enough that the claims a test starts together join the groups the policy picks for them, however loaded the machine is. */
const WAIT = 5_000;

type Claimed = Extract<ClaimResult, { status: 'claimed' }>;

function expectClaimed(result: ClaimResult): Claimed {
  if (result.status !== 'claimed') throw new Error(`expected claimed, got ${result.status}`);
  return result;
}

describe('PostgresIdempotencyStore group commit', () => {
  let admin: pg.Client;
  const stores: PostgresIdempotencyStore[] = [];
  const open = (options: Partial<PostgresStoreOptions> = {}): PostgresIdempotencyStore => {
    const store = new PostgresIdempotencyStore({ url: DATABASE_URL, table: TABLE, groupCommitMaxWaitMs: WAIT, ...options });
    stores.push(store);
    return store;
  };
  const keys = (name: string, n: number): string[] => {
    const run = randomBytes(4).toString('hex');
    return Array.from({ length: n }, (_, i) => `${name}-${run}-${i}`);
  };
  const effects = async (jobs: string[]): Promise<Map<string, string[]>> => {
    const result = await admin.query<{ job: string; tx: string }>(`SELECT job, tx FROM ${EFFECTS} WHERE job = ANY($1)`, [jobs]);
    const byJob = new Map<string, string[]>();
    for (const row of result.rows) byJob.set(row.job, [...(byJob.get(row.job) ?? []), row.tx]);
    return byJob;
  };
  const recorded = async (jobs: string[]): Promise<Set<string>> =>
    new Set((await admin.query<{ key: string }>(`SELECT key FROM ${TABLE} WHERE key = ANY($1)`, [jobs])).rows.map((row) => row.key));
  const writeEffect = (claim: Claimed, job: string) => claim.tx!.query(`INSERT INTO ${EFFECTS} (job) VALUES ($1)`, [job]);

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE TABLE ${EFFECTS} (job text NOT NULL, tx bigint NOT NULL DEFAULT txid_current())`);
    await admin.query(`CREATE TABLE ${DEFERRED} (v int UNIQUE DEFERRABLE INITIALLY DEFERRED)`);
    await open().ready();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(stores.map((s) => s.close()));
    await admin.query(`DROP TABLE IF EXISTS ${EFFECTS}, ${DEFERRED}, ${TABLE}`);
    await admin.end();
  });

  it('rolls back a failing job alone: the others of its transaction commit together with their effects', async () => {
    const store = open({ poolSize: 1 }); // one connection: every claim joins the one group
    const jobs = keys('alone', 7);
    const claims = jobs.map((job) => store.claim(job, LEASE));
    const run = async (index: number): Promise<void> => {
      const job = jobs[index]!;
      const claim = expectClaimed(await claims[index]!);
      // Jobs 5 and 6 write nothing through tx: one completes, one is released.
      if (index === 5) return claim.complete();
      if (index === 6) return claim.release();
      await writeEffect(claim, job);
      if (index === 1) {
        // The handler threw: the worker releases the claim.
        await claim.release();
      } else if (index === 3) {
        // A statement of its own failed: its effects go, and it cannot complete.
        await expect(claim.tx!.query('SELECT * FROM warren_no_such_table')).rejects.toThrow();
        await expect(claim.complete()).rejects.toBeInstanceOf(ClaimLostError);
      } else {
        await claim.complete();
      }
    };
    await Promise.all(jobs.map((_, index) => run(index)));

    const written = await effects(jobs);
    const kept = [jobs[0]!, jobs[2]!, jobs[4]!];
    expect([...written.keys()].sort()).toEqual([...kept].sort());
    for (const job of kept) expect(written.get(job)).toHaveLength(1);
    // The three that completed share one transaction.
    expect(new Set(kept.map((job) => written.get(job)![0])).size).toBe(1);
    expect(await recorded(jobs)).toEqual(new Set([...kept, jobs[5]!]));
    for (const job of [...kept, jobs[5]!]) expect((await store.claim(job, LEASE)).status).toBe('done');
    for (const job of [jobs[1]!, jobs[3]!, jobs[6]!]) await expectClaimed(await store.claim(job, LEASE)).release();
  });

  it('shares transactions between concurrent claims: fewer commits than jobs, every effect once', async () => {
    const store = open({ poolSize: 4 });
    const jobs = keys('shared', 40);
    await Promise.all(
      jobs.map(async (job) => {
        const claim = expectClaimed(await store.claim(job, LEASE));
        await writeEffect(claim, job);
        await claim.complete();
      }),
    );
    const written = await effects(jobs);
    expect(written.size).toBe(jobs.length);
    for (const job of jobs) expect(written.get(job)).toHaveLength(1);
    const transactions = new Set([...written.values()].map(([tx]) => tx));
    // 40 jobs at once on 4 connections: one transaction per connection.
    expect(transactions.size).toBeLessThanOrEqual(4);
    expect(await recorded(jobs)).toEqual(new Set(jobs));
  });

  it('tells every job of a group whose COMMIT fails that its claim was lost, and records none of them', async () => {
    const store = open({ poolSize: 1 });
    const jobs = keys('commit-fails', 3);
    const claims = jobs.map((job) => store.claim(job, LEASE));
    const outcomes = await Promise.all(
      jobs.map(async (job, index) => {
        const claim = expectClaimed(await claims[index]!);
        await writeEffect(claim, job);
        // Two of them write the same value: the deferred constraint fails the COMMIT of the whole group.
        await claim.tx!.query(`INSERT INTO ${DEFERRED} (v) VALUES ($1)`, [index === 2 ? 2 : 1]);
        return claim.complete().then(
          () => 'committed',
          (error: unknown) => error,
        );
      }),
    );
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(ClaimLostError);
    expect((await effects(jobs)).size).toBe(0);
    expect((await recorded(jobs)).size).toBe(0);
    for (const job of jobs) await expectClaimed(await store.claim(job, LEASE)).release();
  });

  it('loses the whole group when one job outlives its lease: nothing of it commits, every key is claimable again', async () => {
    const store = open({ poolSize: 1 });
    const [finished, frozen] = keys('frozen', 2) as [string, string];
    const first = store.claim(finished, LEASE);
    const second = store.claim(frozen, 1_000);
    const done = expectClaimed(await first);
    await writeEffect(done, finished);
    const completing = done.complete().then(
      () => 'committed',
      (error: unknown) => error,
    );
    const stuck = expectClaimed(await second); // its turn starts once the first one completed
    await writeEffect(stuck, frozen);
    // The frozen job never settles; its lease (ours, or the server's idle-in-transaction timeout) loses the group, the finished job with it.
    expect(await completing).toBeInstanceOf(ClaimLostError);
    await expect(stuck.complete()).rejects.toBeInstanceOf(ClaimLostError);
    expect((await effects([finished, frozen])).size).toBe(0);
    const other = open();
    for (const job of [finished, frozen]) await expectClaimed(await pollClaim(other, job)).release();
  });

  it('answers a duplicate of a key claimed in the same group done once that group committed', async () => {
    const store = open({ poolSize: 1, lockTimeoutMs: 20_000 });
    const [job, other] = keys('dup', 2) as [string, string];
    const first = store.claim(job, LEASE);
    const neighbour = store.claim(other, LEASE);
    const duplicate = store.claim(job, LEASE);
    const holder = expectClaimed(await first);
    await writeEffect(holder, job);
    const committed = holder.complete();
    await expectClaimed(await neighbour).complete();
    await committed;
    expect((await duplicate).status).toBe('done');
    expect((await effects([job])).get(job)).toHaveLength(1);
  });

  it('rolls back every job of a group when its worker process is SIGKILLed, also those that had completed', async () => {
    const jobs = keys('sigkill', 3);
    const child = await groupInChild(jobs);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const store = open();
    for (const job of jobs) await expectClaimed(await pollClaim(store, job)).release();
    expect((await effects(jobs)).size).toBe(0);
  });

  it('on close, rolls back the group and refuses the claims still waiting for their turn', async () => {
    const closing = new PostgresIdempotencyStore({ url: DATABASE_URL, table: TABLE, poolSize: 1, groupCommitMaxWaitMs: WAIT });
    const [running, waiting] = keys('closed', 2) as [string, string];
    const first = closing.claim(running, LEASE);
    const second = closing.claim(waiting, LEASE);
    const claim = expectClaimed(await first);
    await writeEffect(claim, running);
    await closing.close();
    await expect(claim.complete()).rejects.toBeInstanceOf(ClaimLostError);
    await expect(second).rejects.toBeInstanceOf(IdempotencyStoreError);
    await expect(closing.claim(running, LEASE)).rejects.toBeInstanceOf(IdempotencyStoreError);
    expect((await effects([running])).size).toBe(0);
    await expectClaimed(await pollClaim(open(), running)).release();
  });
});

/** Claims until the key is no longer busy (the server needs a moment to end a destroyed connection's transaction). */
async function pollClaim(store: PostgresIdempotencyStore, job: string): Promise<ClaimResult> {
  const deadline = Date.now() + 15_000;
  let result = await store.claim(job, LEASE);
  while (result.status === 'busy' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    result = await store.claim(job, LEASE);
  }
  return result;
}

/** Every child started, so that a failing test leaves none behind. */
const children: ChildProcess[] = [];
const POSTGRES_STORE = fileURLToPath(new URL('../../src/idempotency/postgres.ts', import.meta.url));

/**
 * A worker-like process whose jobs share one transaction: each writes its
 * effect, the first ones complete (and wait for the group's COMMIT), the
 * last one never settles. Resolves once all of that happened; the process
 * then hangs until killed.
 */
async function groupInChild(jobs: string[]): Promise<ChildProcess> {
  const script = `
    import { PostgresIdempotencyStore } from ${JSON.stringify(POSTGRES_STORE)};
    const store = new PostgresIdempotencyStore({ url: process.env.DATABASE_URL, table: ${JSON.stringify(TABLE)}, poolSize: 1, groupCommitMaxWaitMs: ${WAIT} });
    await store.ready();
    const jobs = ${JSON.stringify(jobs)};
    const claims = jobs.map((job) => store.claim(job, 60000));
    for (const [index, job] of jobs.entries()) {
      const claim = await claims[index];
      if (claim.status !== 'claimed') throw new Error('child could not claim: ' + claim.status);
      await claim.tx.query('INSERT INTO ${EFFECTS} (job) VALUES ($1)', [job]);
      if (index < jobs.length - 1) void claim.complete().catch(() => {});
    }
    console.log('ready');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, DATABASE_URL },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
  });
  return child;
}
