import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { JobClient } from '../../src/client/index.ts';

export const GROUPS_TOPOLOGY = 'test/fixtures/topology/streams-groups.yaml';

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test): the stream group tests need PostgreSQL');
  return url;
}

/** A table prefix of its own for one test file; `drop()` removes every table made under it. */
export async function testTables(): Promise<{ prefix: string; db: pg.Client; ledger(name: string): Promise<string>; drop(): Promise<void> }> {
  const prefix = `t_streams_${randomBytes(4).toString('hex')}_`;
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  const made: string[] = [`${prefix}stream_members`, `${prefix}stream_offsets`];
  return {
    prefix,
    db,
    async ledger(name) {
      const table = `${prefix}${name}`;
      await db.query(
        `CREATE TABLE ${table} (applied bigserial PRIMARY KEY, event_id text NOT NULL, key text NOT NULL, seq int NOT NULL,
           partition int NOT NULL, stream_offset bigint NOT NULL, member text NOT NULL, generation bigint NOT NULL)`,
      );
      made.push(table);
      return table;
    },
    async drop() {
      for (const table of made) await db.query(`DROP TABLE IF EXISTS ${table}`);
      await db.end();
    },
  };
}

/** Publishes `count` tick events over `keys` keys, seq 1, 2, … per key, with ids e-<i>; in windows so confirms pipeline. */
export async function publishTicks(client: JobClient, count: number, keys: number, from = 0): Promise<void> {
  const seqs = new Map<string, number>();
  const all: Array<{ key: string; seq: number; id: string }> = [];
  for (let i = 0; i < from + count; i += 1) {
    const key = `k-${i % keys}`;
    const seq = (seqs.get(key) ?? 0) + 1;
    seqs.set(key, seq);
    if (i >= from) all.push({ key, seq, id: `e-${i}` });
  }
  // One key's events must go out in order: a window never holds two of one key (keys < window would reorder).
  const window = Math.min(500, keys);
  for (let start = 0; start < all.length; start += window) {
    await Promise.all(all.slice(start, start + window).map((e) => client.publishEvent('tick', { key: e.key, seq: e.seq }, { idempotencyKey: e.id })));
  }
}

export interface MemberProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(kind: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export function spawnMember(env: Record<string, string>): MemberProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/streams/member.ts'], {
    env: { ...process.env, STREAM_TOPOLOGY: GROUPS_TOPOLOGY, STREAM: 'ticks', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let rest = '';
  const waiters: Array<{ kind: string; resolve: (line: Record<string, unknown>) => void }> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      try {
        const line = JSON.parse(part) as Record<string, unknown>;
        lines.push(line);
        for (const waiter of waiters.splice(0)) {
          if (waiter.kind === line.kind) waiter.resolve(line);
          else waiters.push(waiter);
        }
      } catch {
        // not one of ours
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(kind, timeoutMs = 30_000) {
      const seen = lines.find((line) => line.kind === kind);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`member never printed ${kind}; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        waiters.push({
          kind,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

/** Polls `check` every 100 ms until it is true, or fails after `timeoutMs` with `what`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every event applied exactly once, and each key's events applied in seq order. */
export async function ledgerProblems(db: pg.Client, ledger: string): Promise<{ rows: number; distinct: number; outOfOrderKeys: number }> {
  const counts = await db.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct FROM ${ledger}`);
  const order = await db.query<{ bad: string }>(
    `SELECT count(*) AS bad FROM (
       SELECT key, seq, row_number() OVER (PARTITION BY key ORDER BY applied) AS position FROM ${ledger}
     ) AS applied WHERE seq <> position`,
  );
  return { rows: Number(counts.rows[0]?.rows), distinct: Number(counts.rows[0]?.distinct), outOfOrderKeys: Number(order.rows[0]?.bad) };
}
