import { describe, expect, it } from 'vitest';
import { acceptedRecord } from '../../src/history/accepted.ts';
import { batchJson } from '../../src/history/columns.ts';
import { boundedMessage, ERROR_MESSAGE_MAX, type AttemptRecord } from '../../src/history/records.ts';
import { daysToCreate, historySql, partitionDay, partitionName, partitionsToDrop, validateSchemaName } from '../../src/history/sql.ts';
import { consumerState } from '../../src/history/state.ts';
import { buildJobHistory, decodeCursor, encodeCursor, type AttemptRow } from '../../src/history/timeline.ts';
import { traceIdOf, traceIdOfHeaders } from '../../src/history/trace-id.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('traceIdOf', () => {
  it('reads the trace id of a W3C traceparent', () => {
    expect(traceIdOf(`00-${TRACE}-${PARENT}-01`)).toBe(TRACE);
    expect(traceIdOf(Buffer.from(`00-${TRACE}-${PARENT}-00`))).toBe(TRACE);
    expect(traceIdOfHeaders({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'a=b' })).toBe(TRACE);
  });

  it('is null when absent or not a valid trace context', () => {
    expect(traceIdOf(undefined)).toBeNull();
    expect(traceIdOfHeaders(undefined)).toBeNull();
    expect(traceIdOfHeaders({})).toBeNull();
    expect(traceIdOf(42)).toBeNull();
    expect(traceIdOf('')).toBeNull();
    expect(traceIdOf(`00-${TRACE}x-${PARENT}-01`)).toBeNull();
    expect(traceIdOf(`00-${'0'.repeat(32)}-${PARENT}-01`)).toBeNull();
    expect(traceIdOf(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeNull();
    expect(traceIdOf(`00-${TRACE}-${PARENT}-01-extra`)).toBeNull();
    expect(traceIdOf(`00-${TRACE.slice(1)}-${PARENT}-01`)).toBeNull();
  });
});

const at = (s: number) => new Date(Date.UTC(2026, 10, 30, 10, 0, s));

describe('consumerState', () => {
  it('is pending with nothing recorded', () => {
    expect(consumerState([], [])).toBe('pending');
  });

  it('is the last outcome while no attempt succeeded', () => {
    expect(consumerState([{ attempt: 1, finishedAt: at(1), outcome: 'retried' }], [])).toBe('retried');
    expect(
      consumerState(
        [
          { attempt: 2, finishedAt: at(3), outcome: 'dead-lettered' },
          { attempt: 1, finishedAt: at(1), outcome: 'retried' },
        ],
        [],
      ),
    ).toBe('dead-lettered');
    expect(consumerState([{ attempt: 1, finishedAt: at(1), outcome: 'released' }], [])).toBe('released');
  });

  it('is succeeded once any attempt succeeded, whatever came after', () => {
    expect(
      consumerState(
        [
          { attempt: 1, finishedAt: at(1), outcome: 'retried' },
          { attempt: 2, finishedAt: at(2), outcome: 'succeeded' },
          { attempt: 1, finishedAt: at(5), outcome: 'released' },
        ],
        [{ kind: 'replayed', at: at(6) }],
      ),
    ).toBe('succeeded');
  });

  it('is duplicate when only a duplicate delivery is recorded', () => {
    expect(consumerState([{ attempt: 1, finishedAt: at(1), outcome: 'duplicate' }], [])).toBe('duplicate');
  });

  it('follows a replay or a purge after the dead-lettering, and the attempts after a replay', () => {
    const dead = { attempt: 3, finishedAt: at(3), outcome: 'dead-lettered' } as const;
    expect(consumerState([dead], [{ kind: 'replayed', at: at(4) }])).toBe('replayed');
    expect(consumerState([dead], [{ kind: 'purged', at: at(4) }])).toBe('purged');
    // Same instant: the event comes after the attempt it follows.
    expect(consumerState([dead], [{ kind: 'replayed', at: at(3) }])).toBe('replayed');
    expect(consumerState([dead, { attempt: 1, finishedAt: at(5), outcome: 'retried' }], [{ kind: 'replayed', at: at(4) }])).toBe('retried');
  });

  it('breaks ties between attempts of the same instant by attempt number', () => {
    expect(
      consumerState(
        [
          { attempt: 2, finishedAt: at(1), outcome: 'dead-lettered' },
          { attempt: 1, finishedAt: at(1), outcome: 'retried' },
        ],
        [],
      ),
    ).toBe('dead-lettered');
  });
});

describe('day partitions', () => {
  const now = Date.UTC(2026, 10, 30, 13, 45);

  it('names a partition by its UTC day and reads the day back', () => {
    const day = Date.UTC(2026, 10, 30);
    expect(partitionName('attempts', day)).toBe('attempts_p20261130');
    expect(partitionDay('attempts_p20261130')).toEqual({ table: 'attempts', dayMs: day });
    expect(partitionDay('other_p20261130')).toBeUndefined();
    expect(partitionDay('jobs_p2026113')).toBeUndefined();
  });

  it('creates yesterday, today and the days ahead', () => {
    expect(daysToCreate(now, 2).map((day) => partitionName('jobs', day))).toEqual(['jobs_p20261129', 'jobs_p20261130', 'jobs_p20261201', 'jobs_p20261202']);
  });

  it('drops whole days past the retention, and nothing that is not ours', () => {
    const names = ['jobs_p20261121', 'jobs_p20261122', 'jobs_p20261123', 'events_p20261122', 'jobs_p20261130', 'jobs_default', 'attempts_p20261201'];
    expect(partitionsToDrop(names, now, 7)).toEqual(['jobs_p20261121', 'jobs_p20261122', 'events_p20261122']);
    expect(partitionsToDrop(names, now, 30)).toEqual([]);
  });

  it('builds partition DDL for the day and refuses to drop a table that is not a partition', () => {
    const sql = historySql('warren_history');
    expect(sql.createPartition('events', Date.UTC(2026, 10, 30))).toBe(
      `CREATE TABLE IF NOT EXISTS "warren_history"."events_p20261130" PARTITION OF "warren_history"."events" FOR VALUES FROM ('2026-11-30T00:00:00.000Z') TO ('2026-12-01T00:00:00.000Z')`,
    );
    expect(() => sql.dropPartition('jobs')).toThrow(RangeError);
  });

  it('accepts only plain schema names', () => {
    expect(validateSchemaName('warren_history_t1')).toBe('warren_history_t1');
    for (const bad of ['', 'Upper', '1x', 'a"b', 'a.b', 'x'.repeat(41)]) expect(() => validateSchemaName(bad)).toThrow(RangeError);
  });
});

describe('batchJson', () => {
  const attempt: AttemptRecord = {
    jobId: 'j1',
    jobType: 'order.created',
    consumer: 'inventory',
    attempt: 1,
    startedAtMs: Date.UTC(2026, 10, 30, 10),
    finishedAtMs: Date.UTC(2026, 10, 30, 10, 0, 1),
    outcome: 'retried',
    deadLetterReason: null,
    errorClass: 'Error',
    errorMessage: 'boom\u0000!',
    workerId: 'w1',
    traceId: null,
  };

  it('turns rows into one JSON array per table, times in epoch ms, without NUL characters', () => {
    const batch = batchJson([
      { table: 'attempts', row: attempt },
      { table: 'attempts', row: { ...attempt, attempt: 2, outcome: 'succeeded', errorClass: null, errorMessage: null } },
      { table: 'events', row: { jobId: 'j1', jobType: null, kind: 'replayed', consumer: 'inventory', queue: 'inventory.dlq', atMs: 0 } },
    ]);
    expect(batch.jobs).toBeUndefined();
    const attempts = JSON.parse(batch.attempts ?? '[]') as Array<Record<string, unknown>>;
    expect(attempts.map((a) => [a.n, a.oc, a.st, a.em])).toEqual([
      [1, 'retried', Date.UTC(2026, 10, 30, 10), 'boom!'],
      [2, 'succeeded', Date.UTC(2026, 10, 30, 10), null],
    ]);
    expect(JSON.parse(batch.events ?? '[]')).toEqual([{ id: 'j1', ty: null, ki: 'replayed', cn: 'inventory', qu: 'inventory.dlq', at: 0 }]);
  });

  it('names exactly the record columns of the INSERT statements', () => {
    const sql = historySql('warren_history');
    const keysOf = (json: string | undefined) => Object.keys((JSON.parse(json ?? '[{}]') as Array<Record<string, unknown>>)[0] ?? {});
    const columnsOf = (statement: string) => [...(/AS t\((.*)\)/.exec(statement)?.[1] ?? '').matchAll(/(\w+) \w+/g)].map((m) => m[1]);
    const batch = batchJson([
      { table: 'attempts', row: attempt },
      { table: 'events', row: { jobId: 'j1', jobType: null, kind: 'purged', consumer: null, queue: 'q.dlq', atMs: 0 } },
      { table: 'jobs', row: { id: 'j1', jobType: 't', acceptedAtMs: 0, correlationId: null, payloadSize: 0, payload: null, traceId: null, submittedBy: null } },
    ]);
    for (const table of ['jobs', 'attempts', 'events'] as const) expect(keysOf(batch[table]).sort(), table).toEqual(columnsOf(sql.insert[table]).sort());
  });

  it('bounds error messages', () => {
    expect(boundedMessage('x'.repeat(5_000))).toHaveLength(ERROR_MESSAGE_MAX);
    expect(boundedMessage('short')).toBe('short');
    expect(boundedMessage(undefined)).toBeNull();
  });
});

describe('acceptedRecord', () => {
  const message = {
    exchange: 'orders',
    routingKey: 'order.created',
    content: Buffer.from('{"orderId":"o-1"}'),
    options: { messageId: 'j1', type: 'order.created', correlationId: 'c1', headers: { traceparent: `00-${TRACE}-${PARENT}-01` } },
  };

  it('takes id, type, correlation id, size and the trace id from the published message', () => {
    expect(acceptedRecord(message, { acceptedAtMs: 5, recordPayload: false, payloadMaxBytes: 100, submittedBy: 'tok' })).toEqual({
      id: 'j1',
      jobType: 'order.created',
      acceptedAtMs: 5,
      correlationId: 'c1',
      payloadSize: 17,
      payload: null,
      traceId: TRACE,
      submittedBy: 'tok',
    });
  });

  it('keeps the payload only when asked and when it is small enough', () => {
    expect(acceptedRecord(message, { acceptedAtMs: 5, recordPayload: true, payloadMaxBytes: 100, submittedBy: undefined }).payload).toBe('{"orderId":"o-1"}');
    expect(acceptedRecord(message, { acceptedAtMs: 5, recordPayload: true, payloadMaxBytes: 10, submittedBy: undefined }).payload).toBeNull();
    const untraced = { ...message, options: { messageId: 'j2', type: 't' } };
    expect(acceptedRecord(untraced, { acceptedAtMs: 5, recordPayload: false, payloadMaxBytes: 10, submittedBy: undefined })).toMatchObject({ traceId: null, correlationId: null, submittedBy: null });
  });
});

describe('buildJobHistory', () => {
  const row = (consumer: string, attempt: number, s: number, outcome: AttemptRow['outcome'], extra: Partial<AttemptRow> = {}): AttemptRow => ({
    job_type: 'order.created',
    consumer,
    attempt,
    started_at: at(s),
    finished_at: at(s + 1),
    outcome,
    dead_letter_reason: null,
    error_class: null,
    error_message: null,
    worker_id: 'w1',
    trace_id: null,
    ...extra,
  });

  it('is undefined when nothing is recorded', () => {
    expect(buildJobHistory('x', undefined, [], [])).toBeUndefined();
  });

  it('groups attempts per consumer, in order, with each consumer state and the events', () => {
    const history = buildJobHistory(
      'j1',
      { id: 'j1', job_type: 'order.created', accepted_at: at(0), correlation_id: null, payload_size: 10, payload: null, trace_id: TRACE, submitted_by: null },
      [
        row('loyalty', 2, 12, 'succeeded'),
        row('inventory', 1, 1, 'succeeded'),
        row('loyalty', 1, 1, 'retried', { error_class: 'Error', error_message: 'flaky' }),
        row('payments', 3, 20, 'dead-lettered', { dead_letter_reason: 'attempts-exhausted', error_class: 'TypeError', error_message: 'bad' }),
      ],
      [{ kind: 'replayed', consumer: 'payments', queue: 'payments.dlq', at: at(30) }],
    );
    expect(history).toMatchObject({ id: 'j1', jobType: 'order.created', acceptedAt: at(0).toISOString(), traceId: TRACE, payloadSize: 10 });
    expect(history?.consumers.map((c) => [c.consumer, c.state, c.attempts.map((a) => `${a.attempt}:${a.outcome}`)])).toEqual([
      ['inventory', 'succeeded', ['1:succeeded']],
      ['loyalty', 'succeeded', ['1:retried', '2:succeeded']],
      ['payments', 'replayed', ['3:dead-lettered']],
    ]);
    expect(history?.consumers[1]?.attempts[0]?.error).toEqual({ class: 'Error', message: 'flaky' });
    expect(history?.consumers[2]?.attempts[0]?.deadLetterReason).toBe('attempts-exhausted');
    expect(history?.events).toEqual([{ kind: 'replayed', consumer: 'payments', queue: 'payments.dlq', at: at(30).toISOString() }]);
  });

  it('shows attempts of a job accepted elsewhere, with the trace id of its first traced attempt', () => {
    const history = buildJobHistory('j2', undefined, [row('inventory', 2, 5, 'succeeded', { trace_id: 'b'.repeat(32) }), row('inventory', 1, 1, 'retried', { trace_id: 'a'.repeat(32) })], []);
    expect(history).toMatchObject({ acceptedAt: null, jobType: 'order.created', traceId: 'a'.repeat(32) });
  });
});

describe('search cursor', () => {
  it('round-trips and refuses what it did not make', () => {
    const cursor = encodeCursor(at(3), 'job:1');
    expect(decodeCursor(cursor)).toEqual({ acceptedAt: at(3).toISOString(), id: 'job:1' });
    expect(decodeCursor('not-a-cursor')).toBeUndefined();
    expect(decodeCursor(Buffer.from('["x","y"]').toString('base64url'))).toBeUndefined();
    expect(decodeCursor(Buffer.from('{"a":1}').toString('base64url'))).toBeUndefined();
  });
});
