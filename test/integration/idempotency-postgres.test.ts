import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimLostError, IdempotencyStoreError } from '../../src/idempotency/errors.ts';
import { createIdempotencyStore } from '../../src/idempotency/index.ts';
import { PostgresIdempotencyStore, type PostgresStoreOptions } from '../../src/idempotency/postgres.ts';
import type { ClaimResult } from '../../src/idempotency/store.ts';

// Against the local PostgreSQL; fails loudly rather than skipping when there is none.
const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) throw new Error('DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test): the PostgreSQL idempotency tests need a server');

const SUFFIX = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const TABLE = `warren_test_idem_${SUFFIX}`;
const EFFECTS = `warren_test_effects_${SUFFIX}`;
const LEASE = 30_000;

function expectClaimed(result: ClaimResult): Extract<ClaimResult, { status: 'claimed' }> {
  if (result.status !== 'claimed') throw new Error(`expected claimed, got ${result.status}`);
  return result;
}

describe('PostgresIdempotencyStore', () => {
  let admin: pg.Client;
  const stores: PostgresIdempotencyStore[] = [];
  const open = (options: Partial<PostgresStoreOptions> = {}): PostgresIdempotencyStore => {
    const store = new PostgresIdempotencyStore({ url: DATABASE_URL, table: TABLE, ...options });
    stores.push(store);
    return store;
  };
  const key = (name: string): string => `${name}-${randomBytes(4).toString('hex')}`;
  const effectsOf = async (job: string): Promise<number> =>
    Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${EFFECTS} WHERE job = $1`, [job])).rows[0]?.n);
  const recorded = async (job: string): Promise<boolean> => ((await admin.query(`SELECT 1 FROM ${TABLE} WHERE key = $1`, [job])).rowCount ?? 0) === 1;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE TABLE ${EFFECTS} (job text NOT NULL, points int NOT NULL)`);
    await open().ready();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(stores.map((s) => s.close()));
    await admin.query(`DROP TABLE IF EXISTS ${EFFECTS}, ${TABLE}`);
    await admin.end();
  });

  it('creates its table with a unique key, also when many stores start at once', async () => {
    const table = `warren_test_idem_new_${SUFFIX}`;
    const starters = Array.from({ length: 4 }, () => open({ table }));
    try {
      await Promise.all(starters.map((s) => s.ready()));
      const columns = await admin.query(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisunique`, [table]);
      expect(columns.rows.map((r: { attname: string }) => r.attname)).toEqual(['key']);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('starts a new store while claims are open, without waiting for them (no DDL lock on an existing table)', async () => {
    const holder = expectClaimed(await open().claim(key('held'), 600_000)); // far beyond the test timeout
    const latecomer = open();
    await latecomer.ready();
    const other = expectClaimed(await latecomer.claim(key('other'), LEASE));
    await other.complete();
    await holder.release();
  });

  it('gives exactly one of many concurrent claims of one key; the others are busy', async () => {
    const job = key('race');
    const contenders = [open({ poolSize: 10 }), open({ poolSize: 10 })];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => contenders[i % 2]!.claim(job, LEASE)));
    const winners = results.filter((r) => r.status === 'claimed');
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.status === 'busy')).toHaveLength(19);
    await expectClaimed(winners[0]!).complete();
    expect((await contenders[1]!.claim(job, LEASE)).status).toBe('done');
  });

  it('commits the effect written through tx together with the job id', async () => {
    const store = open();
    const job = key('commit');
    const claim = expectClaimed(await store.claim(job, LEASE));
    await claim.tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    expect(await effectsOf(job)).toBe(0); // not visible before the commit
    await claim.complete();
    expect(await effectsOf(job)).toBe(1);
    expect(await recorded(job)).toBe(true);
    expect((await store.claim(job, LEASE)).status).toBe('done');
  });

  it('rolls back the effect and the job id together on release', async () => {
    const store = open();
    const job = key('rollback');
    const claim = expectClaimed(await store.claim(job, LEASE));
    await claim.tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    await claim.release();
    expect(await effectsOf(job)).toBe(0);
    expect(await recorded(job)).toBe(false);
    await expect(claim.tx!.query('SELECT 1')).rejects.toThrow(IdempotencyStoreError);
    await expectClaimed(await store.claim(job, LEASE)).release();
  });

  it('refuses to complete a transaction that a failed statement aborted, and records nothing', async () => {
    const store = open();
    const job = key('aborted');
    const claim = expectClaimed(await store.claim(job, LEASE));
    await claim.tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    await expect(claim.tx!.query('SELECT * FROM warren_no_such_table')).rejects.toThrow();
    await expect(claim.complete()).rejects.toBeInstanceOf(ClaimLostError);
    expect(await effectsOf(job)).toBe(0);
    await expectClaimed(await store.claim(job, LEASE)).release();
  });

  it('makes a duplicate that waits for the holder see done after a commit, and claim after a rollback', async () => {
    const store = open({ lockTimeoutMs: 20_000 });
    const committed = key('wait-commit');
    const first = expectClaimed(await store.claim(committed, LEASE));
    const duplicate = store.claim(committed, LEASE);
    await sleep(200); // the duplicate is now blocked on the unique index
    await first.complete();
    expect((await duplicate).status).toBe('done');

    const rolledBack = key('wait-rollback');
    const holder = expectClaimed(await store.claim(rolledBack, LEASE));
    const next = store.claim(rolledBack, LEASE);
    await sleep(200);
    await holder.release();
    await expectClaimed(await next).release();
  });

  it('leaves the key claimable, and the effect undone, when the connection is killed mid-transaction', async () => {
    const store = open();
    const job = key('killed');
    const claim = expectClaimed(await store.claim(job, LEASE));
    await claim.tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    const pid = (await claim.tx!.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const again = await pollClaim(store, job);
    expect(again.status).toBe('claimed');
    await expect(claim.complete()).rejects.toBeInstanceOf(ClaimLostError);
    expect(await effectsOf(job)).toBe(0);
    await expectClaimed(again).tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    await expectClaimed(again).complete();
    expect(await effectsOf(job)).toBe(1);
  });

  it('survives a worker process killed with SIGKILL: before COMMIT the job is claimable and undone, after it the job is done', async () => {
    const beforeCommit = key('sigkill-before');
    const child = await holdClaimInChild(beforeCommit, false);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const again = expectClaimed(await pollClaim(open(), beforeCommit));
    expect(await effectsOf(beforeCommit)).toBe(0);
    await again.release();

    const afterCommit = key('sigkill-after');
    const committer = await holdClaimInChild(afterCommit, true); // dies between COMMIT and the ack it never sends
    committer.kill('SIGKILL');
    await once(committer, 'exit');
    expect((await open().claim(afterCommit, LEASE)).status).toBe('done');
    expect(await effectsOf(afterCommit)).toBe(1);
  });

  it('rolls back a claim whose lease ran out, and no earlier', async () => {
    const store = open();
    const job = key('lease');
    const claimedAt = Date.now();
    const stale = expectClaimed(await store.claim(job, 1_000));
    await stale.tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    const taken = await pollClaim(store, job);
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(1_000);
    await expect(stale.complete()).rejects.toBeInstanceOf(ClaimLostError);
    await expect(stale.tx!.query('SELECT 1')).rejects.toBeInstanceOf(ClaimLostError);
    await expectClaimed(taken).complete();
    expect(await effectsOf(job)).toBe(0);
  });

  it('rolls back the claims still open when the store is closed, without waiting for their leases', async () => {
    const closing = new PostgresIdempotencyStore({ url: DATABASE_URL, table: TABLE });
    const job = key('closed');
    const claim = expectClaimed(await closing.claim(job, 600_000)); // far beyond the test timeout: close() must not wait for it
    await claim.tx!.query(`INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)`, [job]);
    await closing.close();
    await expect(claim.complete()).rejects.toBeInstanceOf(ClaimLostError);
    const again = await pollClaim(open(), job);
    await expectClaimed(again).release();
    expect(await effectsOf(job)).toBe(0);
  });

  it('purges records older than a given age, making those job ids runnable again', async () => {
    const store = open();
    const old = key('old');
    const recent = key('recent');
    for (const job of [old, recent]) await expectClaimed(await store.claim(job, LEASE)).complete();
    await admin.query(`UPDATE ${TABLE} SET recorded_at = now() - interval '2 days' WHERE key = $1`, [old]);
    expect(await store.purgeOlderThan(24 * 60 * 60 * 1000)).toBe(1);
    expect((await store.claim(recent, LEASE)).status).toBe('done');
    await expectClaimed(await store.claim(old, LEASE)).release();
  });

  it('is built by createIdempotencyStore, and rejects an unsafe table name', async () => {
    const store = await createIdempotencyStore({ kind: 'postgres', url: DATABASE_URL, table: TABLE });
    try {
      expect(store.kind).toBe('postgres');
      const job = key('factory');
      await expectClaimed(await store.claim(job, LEASE)).complete();
      expect((await store.claim(job, LEASE)).status).toBe('done');
    } finally {
      await store.close();
    }
    await expect(createIdempotencyStore({ kind: 'postgres', url: DATABASE_URL, table: 'x; DROP TABLE y' })).rejects.toThrow(/invalid idempotency table name/);
  });

  it('fails with a store error, password redacted, when PostgreSQL cannot be reached', async () => {
    const store = new PostgresIdempotencyStore({ url: 'postgres://postgres:sekrit@127.0.0.1:1/test', table: TABLE });
    try {
      const error = await store.claim(key('down'), LEASE).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(IdempotencyStoreError);
      expect((error as Error).message).not.toContain('sekrit');
    } finally {
      await store.close();
    }
  });
});

/** Claims until the key is no longer busy (the server needs a moment to notice a dead connection). */
async function pollClaim(store: PostgresIdempotencyStore, job: string): Promise<ClaimResult> {
  const deadline = Date.now() + 15_000;
  let result = await store.claim(job, LEASE);
  while (result.status === 'busy' && Date.now() < deadline) {
    await sleep(50);
    result = await store.claim(job, LEASE);
  }
  return result;
}

/** Every child started, so that a failing test leaves none behind. */
const children: ChildProcess[] = [];
const POSTGRES_STORE = fileURLToPath(new URL('../../src/idempotency/postgres.ts', import.meta.url));

/**
 * A separate worker-like process that claims `job`, writes its effect through
 * tx, commits when asked, then hangs until killed. Resolves once it has got
 * that far.
 */
async function holdClaimInChild(job: string, commit: boolean): Promise<ChildProcess> {
  const script = `
    import { PostgresIdempotencyStore } from ${JSON.stringify(POSTGRES_STORE)};
    const store = new PostgresIdempotencyStore({ url: process.env.DATABASE_URL, table: ${JSON.stringify(TABLE)} });
    const claim = await store.claim(${JSON.stringify(job)}, 60000);
    if (claim.status !== 'claimed') throw new Error('child could not claim: ' + claim.status);
    await claim.tx.query('INSERT INTO ${EFFECTS} (job, points) VALUES ($1, 10)', [${JSON.stringify(job)}]);
    if (${commit}) await claim.complete();
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
