import { describe, expect, it } from 'vitest';
import { cronProblem, dueTicks, nextTick, tickJobId, timeZoneProblem, type DueInput } from '../../src/schedules/rule.ts';
import { parseTopology } from '../../src/topology/load.ts';

const at = (iso: string) => new Date(iso);
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('nextTick', () => {
  it('every: aligned to the epoch, strictly after, whatever the start', () => {
    const rule = { kind: 'every', everyMs: 15_000 } as const;
    expect(nextTick(rule, at('2026-01-01T00:00:07.123Z'))?.toISOString()).toBe('2026-01-01T00:00:15.000Z');
    expect(nextTick(rule, at('2026-01-01T00:00:15.000Z'))?.toISOString()).toBe('2026-01-01T00:00:30.000Z');
  });

  it('cron in a time zone, across a DST change (Paris, 2026-03-29 and 2026-10-25)', () => {
    const rule = { kind: 'cron', expression: '0 9 * * *', timezone: 'Europe/Paris' } as const;
    expect(nextTick(rule, at('2026-03-28T12:00:00Z'))?.toISOString()).toBe('2026-03-29T07:00:00.000Z'); // 09:00 CEST
    expect(nextTick(rule, at('2026-03-27T12:00:00Z'))?.toISOString()).toBe('2026-03-28T08:00:00.000Z'); // 09:00 CET
    expect(nextTick(rule, at('2026-10-25T06:00:00Z'))?.toISOString()).toBe('2026-10-25T08:00:00.000Z'); // back to CET
  });

  it('six-field cron has seconds', () => {
    const rule = { kind: 'cron', expression: '*/10 * * * * *', timezone: 'UTC' } as const;
    expect(nextTick(rule, at('2026-01-01T00:00:10Z'))?.toISOString()).toBe('2026-01-01T00:00:20.000Z');
  });
});

describe('dueTicks', () => {
  const base: DueInput = {
    rule: { kind: 'every', everyMs: 1_000 },
    cursor: at('2026-01-01T00:00:00Z'),
    now: at('2026-01-01T00:00:03.500Z'),
    missed: 'skip',
    catchUpLimit: 10,
    graceMs: 60_000,
  };

  it('ticks within the grace are due whatever the policy (a hand-over is not a miss)', () => {
    const due = dueTicks(base);
    expect(iso(due.ticks)).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z']);
    expect(due.skipped).toBe(0);
    expect(due.cursor.toISOString()).toBe('2026-01-01T00:00:03.000Z');
  });

  it('nothing is due twice: from the returned cursor, the same instant yields nothing', () => {
    const first = dueTicks(base);
    expect(dueTicks({ ...base, cursor: first.cursor }).ticks).toEqual([]);
  });

  it('skip: ticks older than the grace are dropped and counted', () => {
    const due = dueTicks({ ...base, now: at('2026-01-01T01:00:00.500Z'), graceMs: 2_000 });
    expect(iso(due.ticks)).toEqual(['2026-01-01T00:59:59.000Z', '2026-01-01T01:00:00.000Z']);
    expect(due.skipped).toBe(3600 - 2);
  });

  it('catch-up: the most recent missed ticks up to the bound, then the on-time ones', () => {
    const due = dueTicks({ ...base, now: at('2026-01-01T01:00:00.500Z'), graceMs: 2_000, missed: 'catch-up', catchUpLimit: 3 });
    expect(iso(due.ticks)).toEqual([
      '2026-01-01T00:59:56.000Z',
      '2026-01-01T00:59:57.000Z',
      '2026-01-01T00:59:58.000Z',
      '2026-01-01T00:59:59.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
    expect(due.skipped).toBe(3600 - 5);
  });

  it('catch-up of fewer missed ticks than the bound enqueues them all', () => {
    const due = dueTicks({ ...base, now: at('2026-01-01T00:00:05.500Z'), graceMs: 2_000, missed: 'catch-up', catchUpLimit: 10 });
    expect(due.ticks).toHaveLength(5);
    expect(due.skipped).toBe(0);
  });

  it('cron catch-up across a day of outage, in a time zone', () => {
    const due = dueTicks({
      rule: { kind: 'cron', expression: '0 * * * *', timezone: 'America/New_York' },
      cursor: at('2026-06-01T00:00:00Z'),
      now: at('2026-06-02T00:30:00Z'),
      missed: 'catch-up',
      catchUpLimit: 2,
      graceMs: 60_000,
    });
    expect(iso(due.ticks)).toEqual(['2026-06-01T23:00:00.000Z', '2026-06-02T00:00:00.000Z']);
    expect(due.skipped).toBe(22);
    expect(due.cursor.toISOString()).toBe('2026-06-02T00:00:00.000Z');
  });

  it('skip with nothing on time moves the cursor past the missed ticks', () => {
    const due = dueTicks({ ...base, rule: { kind: 'every', everyMs: 3_600_000 }, now: at('2026-01-01T05:30:00Z'), graceMs: 60_000 });
    expect(due.ticks).toEqual([]);
    expect(due.skipped).toBe(5);
    expect(due.cursor.toISOString()).toBe('2026-01-01T05:29:00.000Z');
    expect(dueTicks({ ...base, rule: { kind: 'every', everyMs: 3_600_000 }, cursor: due.cursor, now: at('2026-01-01T06:00:00Z') }).ticks).toHaveLength(1);
  });
});

describe('checks', () => {
  it('cron and time zone problems', () => {
    expect(cronProblem('*/5 * * * *')).toBeUndefined();
    expect(cronProblem('61 * * * *')).toContain('invalid cron expression');
    expect(cronProblem('0 0 30 2 *')).toContain('never fires');
    expect(timeZoneProblem('Europe/Paris')).toBeUndefined();
    expect(timeZoneProblem('Mars/Olympus')).toContain('unknown time zone');
  });

  it('job ids are deterministic', () => {
    expect(tickJobId('nightly', at('2026-01-01T03:00:00+01:00'))).toBe('schedule:nightly:2026-01-01T02:00:00.000Z');
  });
});

describe('schedules in the topology file', () => {
  const file = (schedules: string) => `
exchanges:
  reports: { type: topic }
jobs:
  report.build:
    exchange: reports
    schema:
      type: object
      required: [kind]
      additionalProperties: false
      properties: { kind: { enum: [daily, weekly] } }
schedules:
${schedules}`;

  it('compiles into the plan', () => {
    const result = parseTopology(file('  nightly: { job: report.build, payload: { kind: daily }, cron: "0 3 * * *", timezone: Europe/Paris, missed: catch-up, catchUpLimit: 3 }\n  beat: { job: report.build, payload: { kind: weekly }, every: 30s }\n'), 't.yaml');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.plan.schedules).toEqual([
      { name: 'beat', jobType: 'report.build', payload: { kind: 'weekly' }, rule: { kind: 'every', everyMs: 30_000 }, missed: 'skip', catchUpLimit: 10, graceMs: 60_000 },
      { name: 'nightly', jobType: 'report.build', payload: { kind: 'daily' }, rule: { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Paris' }, missed: 'catch-up', catchUpLimit: 3, graceMs: 60_000 },
    ]);
  });

  it.each([
    ['  s: { job: report.build, payload: { kind: hourly }, every: 1m }\n', 13, 'schedules.s.payload.kind: does not match job type "report.build"'],
    ['  s: { job: report.nope, every: 1m }\n', 13, 'unknown job type "report.nope"'],
    ['  s: { job: report.build, payload: { kind: daily } }\n', 13, 'exactly one of cron or every'],
    ['  s: { job: report.build, payload: { kind: daily }, cron: "61 * * * *" }\n', 13, 'invalid cron expression'],
    ['  s: { job: report.build, payload: { kind: daily }, cron: "* * * * *", timezone: Mars/X }\n', 13, 'unknown time zone'],
    ['  s: { job: report.build, payload: { kind: daily }, every: 1m, missed: later }\n', 13, 'schedules.s.missed'],
  ])('refuses %s with a position', (schedules, line, message) => {
    const result = parseTopology(file(schedules), 't.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]?.line).toBe(line);
    expect(result.issues[0]?.message).toContain(message);
  });
});

describe('warren schedules rows', () => {
  it('describe each schedule, its next run, and the ledger when read', async () => {
    const { scheduleRows } = await import('../../src/cli/schedules.ts');
    const schedules = [
      { name: 'beat', jobType: 'ping', payload: {}, rule: { kind: 'every', everyMs: 30_000 }, missed: 'skip', catchUpLimit: 10, graceMs: 60_000 },
      { name: 'nightly', jobType: 'report', payload: {}, rule: { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Paris' }, missed: 'catch-up', catchUpLimit: 3, graceMs: 60_000 },
    ] as const;
    const now = at('2026-11-30T09:20:10Z');
    expect(scheduleRows(schedules, now, undefined)).toEqual([
      { name: 'beat', jobType: 'ping', rule: 'every 30s', missed: 'skip', nextRun: '2026-11-30T09:20:30.000Z' },
      { name: 'nightly', jobType: 'report', rule: 'cron "0 3 * * *" Europe/Paris', missed: 'catch-up (at most 3)', nextRun: '2026-12-01T02:00:00.000Z' },
    ]);
    const rows = scheduleRows(schedules, now, [{ schedule: 'beat', cursor: now, skipped: 4, lastEnqueued: at('2026-11-30T09:20:00Z'), pending: 1 }]);
    expect(rows.map((row) => row.ledger)).toEqual([
      { lastEnqueued: '2026-11-30T09:20:00.000Z', pending: 1, skipped: 4 },
      { lastEnqueued: undefined, pending: 0, skipped: 0 },
    ]);
  });
});
