import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { checkoutClient } from '../../src/postgres/checkout.ts';
import { GroupStore } from '../../src/streams/group-store.ts';
import { databaseUrl } from '../support/stream-groups.ts';

// A session PostgreSQL ends under a checked-out client (here pg_terminate_backend; in life the
// lock-hold limit firing while a member was paused) must fail that client's queries, not
// crash the process with an unhandled 'error' event — vitest fails a test on one.
const pools: pg.Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

async function terminate(client: pg.PoolClient): Promise<void> {
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
  // The client learns of it from the socket, after the admin query returns.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

describe('a pool client checked out for a transaction', () => {
  it('fails its next query when the server ends its session, and is not pooled again', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    pools.push(pool);
    const lost: string[] = [];
    const { client, release } = await checkoutClient(pool, (error) => lost.push(error.message));
    await client.query('BEGIN');
    await terminate(client);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(lost.join(' ')).toMatch(/terminat/i);
    release();
    // max 1: the next checkout must be a fresh, working connection.
    const next = await checkoutClient(pool);
    expect((await next.client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    next.release();
  });

  it('GroupStore.checkout (the stream member\'s transactions) survives the same', async () => {
    const store = new GroupStore({ url: databaseUrl(), tablePrefix: `ckout_${process.pid}_` });
    try {
      const { client, release } = await store.checkout();
      await client.query('BEGIN');
      await terminate(client);
      await expect(client.query('SELECT 1')).rejects.toThrow();
      release();
      const again = await store.checkout();
      expect((await again.client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      again.release();
    } finally {
      await store.close();
    }
  });
});
