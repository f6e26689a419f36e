import { describe, expect, it } from 'vitest';
import { formatJobHistory } from '../../src/history/format.ts';
import { historyOptionsFromEnv } from '../../src/history/index.ts';
import type { JobHistory } from '../../src/history/timeline.ts';

const job: JobHistory = {
  id: 'j-1',
  jobType: 'order.created',
  acceptedAt: '2026-11-30T10:00:00.000Z',
  correlationId: 'c-9',
  payloadSize: 412,
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  consumers: [
    {
      consumer: 'inventory',
      state: 'succeeded',
      attempts: [
        { attempt: 1, startedAt: '2026-11-30T10:00:00.010Z', finishedAt: '2026-11-30T10:00:00.020Z', outcome: 'retried', error: { class: 'TypeError', message: 'stock\nservice timed out' }, workerId: 'h:1', traceId: null },
        { attempt: 2, startedAt: '2026-11-30T10:00:01.010Z', finishedAt: '2026-11-30T10:00:01.020Z', outcome: 'succeeded', error: null, workerId: 'h:2', traceId: null },
      ],
    },
    {
      consumer: 'payments',
      state: 'replayed',
      attempts: [
        { attempt: 3, startedAt: '2026-11-30T10:00:02.000Z', finishedAt: '2026-11-30T10:00:02.100Z', outcome: 'dead-lettered', deadLetterReason: 'attempts-exhausted', error: { class: 'Error', message: 'declined' }, workerId: 'h:1', traceId: null },
      ],
    },
  ],
  events: [{ kind: 'replayed', consumer: 'payments', queue: 'payments.dlq', at: '2026-11-30T11:00:00.000Z' }],
};

describe('formatJobHistory', () => {
  it('prints the acceptance, each consumer with its state and attempts in order, and the events', () => {
    expect(formatJobHistory(job).split('\n')).toEqual([
      'job j-1 (order.created)',
      '  accepted 2026-11-30T10:00:00.000Z  412 bytes  correlation c-9  trace 4bf92f3577b34da6a3ce929d0e0e4736',
      '  inventory  succeeded',
      '    #1  2026-11-30T10:00:00.010Z → 2026-11-30T10:00:00.020Z  retried           h:1  TypeError: stock service timed out',
      '    #2  2026-11-30T10:00:01.010Z → 2026-11-30T10:00:01.020Z  succeeded         h:2',
      '  payments   replayed',
      '    #3  2026-11-30T10:00:02.000Z → 2026-11-30T10:00:02.100Z  dead-lettered (attempts-exhausted)  h:1  Error: declined',
      '  events',
      '    2026-11-30T11:00:00.000Z  replayed (payments.dlq, consumer payments)',
    ]);
  });

  it('says when the acceptance was not recorded and nothing ran yet', () => {
    const text = formatJobHistory({ ...job, jobType: null, acceptedAt: null, payloadSize: null, correlationId: null, traceId: null, consumers: [], events: [] });
    expect(text.split('\n')).toEqual(['job j-1', '  accepted: not recorded (published without history)  trace -', '  no attempt recorded yet']);
  });
});

describe('historyOptionsFromEnv', () => {
  it('is off without WARREN_HISTORY_URL', () => {
    expect(historyOptionsFromEnv({})).toBeUndefined();
    expect(historyOptionsFromEnv({ WARREN_HISTORY_URL: ' ' })).toBeUndefined();
  });

  it('reads the URL, schema, retention and payload setting', () => {
    expect(historyOptionsFromEnv({ WARREN_HISTORY_URL: 'postgres://h/db' })).toEqual({ url: 'postgres://h/db' });
    expect(
      historyOptionsFromEnv({ WARREN_HISTORY_URL: 'postgres://h/db', WARREN_HISTORY_SCHEMA: 'hist', WARREN_HISTORY_RETENTION_DAYS: '14', WARREN_HISTORY_PAYLOAD: '1' }),
    ).toEqual({ url: 'postgres://h/db', schema: 'hist', retentionDays: 14, recordPayload: true });
  });

  it('refuses a retention or payload setting it cannot read', () => {
    for (const days of ['0', '1.5', 'week']) expect(() => historyOptionsFromEnv({ WARREN_HISTORY_URL: 'postgres://h/db', WARREN_HISTORY_RETENTION_DAYS: days })).toThrow(RangeError);
    expect(() => historyOptionsFromEnv({ WARREN_HISTORY_URL: 'postgres://h/db', WARREN_HISTORY_PAYLOAD: 'yes' })).toThrow(RangeError);
  });
});
