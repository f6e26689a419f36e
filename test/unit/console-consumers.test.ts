import { describe, expect, it } from 'vitest';
import { DELAYED_JOBS, History, problemsOf, summarize, type QueueRow } from '../../src/console/client/consumers.ts';
import { groupFilters } from '../../src/console/client/dlq-types.ts';
import { formatAbsolute, formatCount, formatRate, formatRelative, prettyJson } from '../../src/console/client/format.ts';

const row = (name: string, consumer: string | null, kind: QueueRow['kind'], fields: Partial<QueueRow> = {}): QueueRow => ({
  name,
  exists: true,
  messagesReady: 0,
  messagesUnacked: 0,
  consumers: 0,
  publishRate: null,
  ackRate: null,
  deliverRate: null,
  headMessageTimestamp: null,
  consumer,
  kind,
  ...fields,
});

describe('console: consumer summaries', () => {
  it('sums a sharded consumer over its shards, keeps retries and the DLQ apart', () => {
    const [payments] = summarize([
      row('payments.shard.0', 'payments', 'work', { messagesReady: 3, messagesUnacked: 1, consumers: 1, publishRate: 2, ackRate: 1.5, headMessageTimestamp: 200 }),
      row('payments.shard.1', 'payments', 'work', { messagesReady: 5, consumers: 1, publishRate: 1, ackRate: null, headMessageTimestamp: 100 }),
      row('payments.retry.10s', 'payments', 'retry', { messagesReady: 7 }),
      row('payments.dlq', 'payments', 'dead-letter', { messagesReady: 2, messagesUnacked: 1 }),
    ]);
    expect(payments).toEqual({
      name: 'payments',
      delays: false,
      subscribed: true,
      consumers: 2,
      workQueues: 2,
      lag: 9,
      rateIn: 3,
      rateOut: 1.5,
      retries: 7,
      dlqDepth: 3,
      dlq: 'payments.dlq',
      oldestHead: 100,
      missing: false,
    });
  });

  it('is not subscribed when any shard has no consumer; a plain queue keeps its .dlq', () => {
    const summaries = summarize([
      row('billing.shard.0', 'billing', 'work', { consumers: 1 }),
      row('billing.shard.1', 'billing', 'work', { consumers: 0 }),
      row('audit-log', null, null, { consumers: 1 }),
      row('audit-log.dlq', null, null, { messagesReady: 4 }),
    ]);
    expect(summaries.map((s) => [s.name, s.subscribed, s.dlqDepth])).toEqual([
      ['billing', false, null],
      ['audit-log', true, 4],
    ]);
  });

  it("shows a consumer group's DLQ as the group's row, with nothing to subscribe to", () => {
    const summaries = summarize([row('order-log.billing.dlq', 'order-log.billing', 'dead-letter', { messagesReady: 2 })]);
    expect(summaries.map((s) => [s.name, s.subscribed, s.workQueues, s.dlq, s.dlqDepth])).toEqual([['order-log.billing', true, 0, 'order-log.billing.dlq', 2]]);
  });

  it('flags a missing queue, a growing DLQ and growing lag, not a falling one', () => {
    const history = new History(10 * 60_000);
    const at = (lag: number, dlq: number) => summarize([row('c', 'c', 'work', { messagesReady: lag, consumers: 1 }), row('c.dlq', 'c', 'dead-letter', { messagesReady: dlq })]);
    history.add(1_000, at(1, 0));
    history.add(2_000, at(2, 0));
    const [now] = at(3, 1);
    history.add(3_000, [now!]);
    expect(problemsOf(now!, history, 3_000)).toEqual(['dlq-growing', 'lag-growing']);
    const [falling] = at(0, 1);
    history.add(4_000, [falling!]);
    expect(problemsOf(falling!, history, 4_000)).toEqual(['dlq-growing']);
    const [gone] = summarize([row('c', 'c', 'work', { exists: false })]);
    expect(problemsOf(gone!, new History(), 0)).toEqual(['missing']);
  });

  it('puts the delay levels in one row that nothing needs to consume, whose growth is no problem', () => {
    const history = new History();
    const rows = (waiting: number) => [
      row('warren.delay.level.00', null, 'delay', { messagesReady: waiting }),
      row('warren.delay.level.01', null, 'delay', { messagesReady: 1 }),
      row('warren.delay.land.later', null, 'delay'),
    ];
    for (const [at, waiting] of [[1_000, 1], [2_000, 5], [3_000, 9]] as const) history.add(at, summarize(rows(waiting)));
    const [delayed] = summarize(rows(9));
    expect(delayed).toMatchObject({ name: DELAYED_JOBS, delays: true, subscribed: true, lag: 10, dlqDepth: null });
    expect(problemsOf(delayed!, history, 3_000)).toEqual([]);
  });

  it('keeps only the window', () => {
    const history = new History(10_000);
    for (let t = 0; t <= 30_000; t += 5_000) history.add(t, summarize([row('c', 'c', 'work', { messagesReady: t })]));
    expect(history.series('c', 'lag').map((p) => p.at)).toEqual([20_000, 25_000, 30_000]);
  });
});

describe('console: formatting', () => {
  it('formats counts, rates and times', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect([formatRate(null), formatRate(0), formatRate(0.44), formatRate(1250.4)]).toEqual(['—', '0/s', '0.4/s', '1,250/s']);
    const now = Date.parse('2024-05-01T10:00:00Z');
    expect([0, 12_000, 5 * 60_000, 3 * 3_600_000, 2 * 86_400_000].map((ago) => formatRelative(now - ago, now))).toEqual(['just now', '12 s ago', '5 min ago', '3 h ago', '2 d ago']);
    expect(formatRelative(now + 120_000, now)).toBe('in 2 min');
    expect(formatAbsolute(now)).toBe('2024-05-01 10:00:00 UTC');
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('not json')).toBe('not json');
  });

  it("a group's filters select it by job type and error text, a clipped text without its ellipsis", () => {
    expect(groupFilters({ jobType: 'paid', error: { class: 'Gateway', message: 'answered 502' }, count: 3 })).toEqual(['jobType=paid', 'error=Gateway: answered 502']);
    expect(groupFilters({ jobType: null, error: { class: 'rejected', message: 'long…' }, count: 1 })).toEqual(['error=rejected: long']);
  });
});
