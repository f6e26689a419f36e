import { describe, expect, it } from 'vitest';
import { accepts, isSlow, place, readyToCommit, type CommitGroupLimits, type GroupView } from '../../src/idempotency/commit-group-policy.ts';
import { idempotencySql } from '../../src/idempotency/postgres-sql.ts';
import { resolvePostgresStoreOptions } from '../../src/idempotency/postgres.ts';

const LIMITS: CommitGroupLimits = { maxJobs: 8, maxWaitMs: 10, maxGroups: 3, queueBeforeNewGroup: 2 };
const NOW = 1_000;

/** A group opened 1 ms ago with one job running since then and `queued` waiting. */
function group(over: Partial<GroupView> = {}): GroupView {
  return { openedAt: NOW - 1, jobs: 1 + (over.queued ?? 0), queued: 0, runningSince: NOW - 1, closed: false, ...over };
}

describe('commit group policy: which group a claim joins', () => {
  it('opens the first group', () => {
    expect(place([], LIMITS, NOW)).toBe('new');
  });

  it('joins the accepting group with the shortest queue while that queue is short', () => {
    expect(place([group({ queued: 1 }), group({ queued: 0 })], LIMITS, NOW)).toBe(1);
    expect(place([group({ queued: 1 })], LIMITS, NOW)).toBe(0);
  });

  it('opens another group once every queue is long enough, while connections are to spare', () => {
    expect(place([group({ queued: 2 }), group({ queued: 3 })], LIMITS, NOW)).toBe('new');
  });

  it('queues in the least busy group when every connection is taken', () => {
    expect(place([group({ queued: 5 }), group({ queued: 2 }), group({ queued: 4 })], LIMITS, NOW)).toBe(1);
  });

  it('never joins a group that is closed, full, past its joining window, or behind a slow job', () => {
    const refused = [
      group({ closed: true }),
      group({ jobs: LIMITS.maxJobs }),
      group({ openedAt: NOW - LIMITS.maxWaitMs }),
      group({ runningSince: NOW - LIMITS.maxWaitMs }),
    ];
    for (const g of refused) expect(accepts(g, LIMITS, NOW)).toBe(false);
    // With no group accepting it opens one, even past maxGroups (it then waits for a connection).
    expect(place(refused, LIMITS, NOW)).toBe('new');
    expect(place([...refused, group({ queued: 1 })], LIMITS, NOW)).toBe(4);
  });

  it('takes a job into a group still connecting (nothing running yet)', () => {
    expect(accepts(group({ runningSince: undefined, queued: 1 }), LIMITS, NOW)).toBe(true);
  });
});

describe('commit group policy: slow jobs and commit', () => {
  it('calls a job slow from maxWaitMs on', () => {
    expect(isSlow(group({ runningSince: NOW - LIMITS.maxWaitMs + 1 }), LIMITS, NOW)).toBe(false);
    expect(isSlow(group({ runningSince: NOW - LIMITS.maxWaitMs }), LIMITS, NOW)).toBe(true);
    expect(isSlow(group({ runningSince: undefined }), LIMITS, NOW)).toBe(false);
  });

  it('commits only when nothing runs and nothing waits', () => {
    expect(readyToCommit(group({ runningSince: undefined, queued: 0 }))).toBe(true);
    expect(readyToCommit(group({ runningSince: NOW - 1, queued: 0 }))).toBe(false);
    expect(readyToCommit(group({ runningSince: undefined, queued: 1 }))).toBe(false);
  });
});

describe('commit group SQL and options', () => {
  it('claims the keys of a group in one round trip, the keys escaped, the lock timeout put back', () => {
    const statements = idempotencySql('app.jobs')
      .groupClaim({ begin: true, savepoint: 'warren_claim_1', keyLiterals: ["'a'", "'b'"], lockTimeoutMs: 100, leaseMs: 30_000 })
      .split('; ');
    expect(statements[0]).toBe('BEGIN');
    expect(statements[1]).toBe('SAVEPOINT warren_claim_1');
    expect(statements[2]).toContain("set_config('lock_timeout', '100ms', true)");
    expect(statements[2]).toContain("set_config('idle_in_transaction_session_timeout', '30000ms', true)");
    expect(statements[3]).toBe(`INSERT INTO "app"."jobs" (key) SELECT unnest(ARRAY['a', 'b']::text[]) ON CONFLICT (key) DO NOTHING RETURNING key`);
    expect(statements[4]).toContain("current_setting('warren.lock_timeout')");
    const later = idempotencySql('jobs').groupClaim({ begin: false, savepoint: 'warren_claim_2', keyLiterals: ["'k'"], lockTimeoutMs: 100, leaseMs: 1 });
    expect(later.startsWith('SAVEPOINT warren_claim_2;')).toBe(true);
    expect(() => idempotencySql('jobs').groupClaim({ begin: false, savepoint: 's', keyLiterals: ["'k'"], lockTimeoutMs: 1.5, leaseMs: 1 })).toThrow(RangeError);
  });

  it("forgets one job of a group: back to its savepoint if it made one, and its key deleted", () => {
    const sql = idempotencySql('jobs');
    expect(sql.groupForget({ savepoint: 'warren_job_3', keyLiteral: "'k'" })).toBe(`ROLLBACK TO SAVEPOINT warren_job_3; DELETE FROM "jobs" WHERE key = 'k'`);
    expect(sql.groupForget({ savepoint: undefined, keyLiteral: "'k'" })).toBe(`DELETE FROM "jobs" WHERE key = 'k'`);
  });

  it('range-checks the group options (at most 64 jobs: the subtransaction cache of a backend)', () => {
    expect(resolvePostgresStoreOptions({ url: 'postgres://h/db', groupCommitMaxJobs: 1 }).groupCommitMaxJobs).toBe(1);
    expect(() => resolvePostgresStoreOptions({ url: 'postgres://h/db', groupCommitMaxJobs: 65 })).toThrow(/groupCommitMaxJobs/);
    expect(() => resolvePostgresStoreOptions({ url: 'postgres://h/db', groupCommitMaxJobs: 0 })).toThrow(/groupCommitMaxJobs/);
    expect(() => resolvePostgresStoreOptions({ url: 'postgres://h/db', groupCommitMaxWaitMs: 0 })).toThrow(/groupCommitMaxWaitMs/);
  });
});
