import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHistory, type JobHistoryHandle } from '../../src/history/index.ts';
import { PostgresHistoryStore } from '../../src/history/postgres-store.ts';
import type { AttemptRecord, JobAcceptedRecord } from '../../src/history/records.ts';
import { createLogger } from '../../src/log.ts';
import { uniqueName } from '../support/broker.ts';

/**
 * The PostgreSQL side of the history on the shared server, in schemas of
 * this test's own: payloads, rows the database refuses, partitions ahead of
 * time and dropped past the retention.
 */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const logger = createLogger('test', { level: 'silent', pretty: false });
const schemaName = (label: string) => uniqueName(`warren_hs_${label}`).replaceAll(/[^a-z0-9_]/g, '_').slice(0, 40);
const schemas: string[] = [];
let db: pg.Pool;

beforeAll(() => {
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
});

afterAll(async () => {
  for (const schema of schemas) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

function accepted(id: string, overrides: Partial<JobAcceptedRecord> = {}): JobAcceptedRecord {
  return { id, jobType: 't', acceptedAtMs: Date.now(), correlationId: null, payloadSize: 2, payload: null, traceId: null, submittedBy: null, ...overrides };
}

function attempt(jobId: string, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  const now = Date.now();
  return { jobId, jobType: 't', consumer: 'c', attempt: 1, startedAtMs: now - 5, finishedAtMs: now, outcome: 'succeeded', deadLetterReason: null, errorClass: null, errorMessage: null, workerId: 'w', traceId: null, ...overrides };
}

async function counter(registry: Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return ((metric?.values ?? []) as Array<{ value: number }>).reduce((sum, v) => sum + v.value, 0);
}

describe('history store (PostgreSQL)', () => {
  it('keeps payloads when asked, and drops only the rows PostgreSQL refuses, counted', async () => {
    const schema = schemaName('payload');
    schemas.push(schema);
    const registry = new Registry();
    const history: JobHistoryHandle = openHistory({ url: DATABASE_URL, schema, recordPayload: true }, { logger, registry });
    try {
      history.recorder.jobAccepted(accepted('a', { payload: '{"orderId":"o-1","n":[1,2]}' }));
      // jsonb cannot hold \u0000: this one row is refused, the others of its batch go in.
      history.recorder.jobAccepted(accepted('bad', { payload: '{"x":"\\u0000"}' }));
      history.recorder.attempt(attempt('a', { errorMessage: 'nul\u0000byte', outcome: 'retried', errorClass: 'Error' }));
      await history.writer.flush();
      const job = await history.reader.job({ id: 'a' });
      expect(job).toMatchObject({ id: 'a', payload: { orderId: 'o-1', n: [1, 2] } });
      expect(job?.consumers[0]?.attempts[0]?.error).toEqual({ class: 'Error', message: 'nulbyte' });
      expect(await history.reader.job({ id: 'bad' })).toBeUndefined();
      expect(await counter(registry, 'warren_history_rows_dropped_total')).toBe(1);
      expect(await counter(registry, 'warren_history_rows_written_total')).toBe(2);
    } finally {
      await history.close();
    }
  });

  it('reads an unknown schema as empty, creates partitions ahead, and drops whole days past the retention', async () => {
    const schema = schemaName('retention');
    schemas.push(schema);
    const store = new PostgresHistoryStore({ url: DATABASE_URL, schema, retentionDays: 3, logger });
    try {
      expect(await store.query(`SELECT * FROM "${schema}".jobs`, [])).toEqual([]);
      const day = 86_400_000;
      // Far from today, so no partition of the real date is involved.
      const now = Date.UTC(2030, 0, 15, 12);
      // Earlier runs made the partitions of their days (yesterday … two days ahead).
      expect(await store.maintain(now - 10 * day)).toEqual([]);
      const partitions = (days: string[]) => ['attempts', 'events', 'jobs'].flatMap((t) => days.map((d) => `${t}_p${d}`)).sort();
      // A week later the first ones are past the three days kept: dropped whole.
      expect((await store.maintain(now - 3 * day)).sort()).toEqual(partitions(['20300104', '20300105', '20300106', '20300107']));
      expect((await store.maintain(now)).sort()).toEqual(partitions(['20300111']));
      const { rows } = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND p.relname = 'jobs' ORDER BY 1`,
        [schema],
      );
      // Kept: every day from three whole days back to two days ahead.
      expect(rows.map((r) => r.name)).toEqual(['jobs_p20300112', 'jobs_p20300113', 'jobs_p20300114', 'jobs_p20300115', 'jobs_p20300116', 'jobs_p20300117']);
    } finally {
      await store.close();
    }
  });
});
