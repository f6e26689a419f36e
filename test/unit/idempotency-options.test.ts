import { describe, expect, it } from 'vitest';
import { idempotencySql, validateTableName } from '../../src/idempotency/postgres-sql.ts';
import { POSTGRES_STORE_DEFAULTS, resolvePostgresStoreOptions } from '../../src/idempotency/postgres.ts';
import { REDIS_STORE_DEFAULTS, redisKeys, resolveRedisStoreOptions } from '../../src/idempotency/redis.ts';

describe('PostgreSQL idempotency table names', () => {
  it('accepts plain and schema-qualified lowercase identifiers', () => {
    for (const name of ['warren_idempotency', '_jobs2', 'app.processed_jobs']) expect(validateTableName(name)).toBe(name);
  });

  it('rejects anything that could carry SQL or mean something else unquoted', () => {
    for (const name of ['', 'Jobs', '2jobs', 'a.b.c', 'jobs; DROP TABLE x', 'jobs"', "jobs'", 'a-b', 'x'.repeat(41)]) {
      expect(() => validateTableName(name), name).toThrow(/invalid idempotency table name/);
    }
  });

  it('quotes every part of the name in the statements it builds', () => {
    const sql = idempotencySql('app.processed_jobs');
    expect(sql.insertKey).toContain('INSERT INTO "app"."processed_jobs" (key)');
    expect(sql.tableExists).toContain(`to_regclass('"app"."processed_jobs"')`);
    expect(sql.createTable.join('\n')).toContain('CREATE INDEX IF NOT EXISTS "processed_jobs_recorded_at_idx" ON "app"."processed_jobs"');
  });
});

describe('store options', () => {
  it('fills in the PostgreSQL defaults and range-checks them', () => {
    expect(resolvePostgresStoreOptions({ url: 'postgres://h/db' })).toMatchObject({ url: 'postgres://h/db', ...POSTGRES_STORE_DEFAULTS });
    expect(() => resolvePostgresStoreOptions({ url: 'postgres://h/db', lockTimeoutMs: 0 })).toThrow(/lockTimeoutMs/);
    expect(() => resolvePostgresStoreOptions({ url: 'postgres://h/db', poolSize: 0 })).toThrow(/poolSize/);
  });

  it('fills in the Redis defaults and range-checks them', () => {
    expect(resolveRedisStoreOptions({ url: 'redis://h' })).toMatchObject({ url: 'redis://h', ...REDIS_STORE_DEFAULTS });
    expect(() => resolveRedisStoreOptions({ url: 'redis://h', leaseMs: -1 })).toThrow(/leaseMs/);
    expect(() => resolveRedisStoreOptions({ url: 'redis://h', doneTtlMs: 0 })).toThrow(/doneTtlMs/);
  });

  it('keeps the Redis lock and done marker of a job apart, under the prefix', () => {
    expect(redisKeys('app:', 'job-1')).toEqual({ lock: 'app:lock:job-1', done: 'app:done:job-1' });
  });
});
