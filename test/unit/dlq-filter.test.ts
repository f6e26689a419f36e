import { describe, expect, it } from 'vitest';
import type { DeadLetterView } from '../../src/dlq/dead-letter.ts';
import { DlqInputError } from '../../src/dlq/errors.ts';
import { isEmptySelection, matchesSelection, MAX_FILTERS, MAX_PATTERN_CHARS, parseFilter, parseSelection, parseTime } from '../../src/dlq/filter.ts';

const view = (overrides: Partial<DeadLetterView> = {}): DeadLetterView => ({
  id: 'job-1',
  jobType: 'order.created',
  attempts: 3,
  error: { class: 'PaymentDeclined', message: 'card expired on 2024-01' },
  firstFailedAt: '2024-05-01T10:00:00.000Z',
  failedAt: '2024-05-01T10:05:00.000Z',
  origin: { exchange: 'orders', routingKey: 'order.created' },
  payloadPreview: '{}',
  ...overrides,
});

describe('dlq filters', () => {
  it('parses KEY=VALUE and KEY~=REGEX for every key', () => {
    expect(parseFilter('jobType=order.created')).toEqual({ key: 'jobType', match: { kind: 'equals', value: 'order.created' } });
    expect(parseFilter('error~=^Payment')).toMatchObject({ key: 'error', match: { kind: 'regex' } });
    expect(parseFilter('header.x-tenant=acme=1')).toEqual({ key: { header: 'x-tenant' }, match: { kind: 'equals', value: 'acme=1' } });
    expect(parseFilter('id=')).toEqual({ key: 'id', match: { kind: 'equals', value: '' } });
  });

  it.each(['jobType', '=x', 'colour=red', 'header.=x', 'error~=(unclosed', ' jobType=x'])('rejects %j with a DlqInputError', (text) => {
    expect(() => parseFilter(text)).toThrow(DlqInputError);
  });

  it('jobType and id match exactly, error by substring of class or message, header by its text', () => {
    const headers = { 'x-tenant': 'acme', 'x-warren-attempts': 3 };
    const match = (filters: string[], v = view()) => matchesSelection(parseSelection({ filters }), v, headers);
    expect(match(['jobType=order.created'])).toBe(true);
    expect(match(['jobType=order'])).toBe(false);
    expect(match(['error=expired'])).toBe(true);
    expect(match(['error=Payment'])).toBe(true);
    expect(match(['error=timeout'])).toBe(false);
    expect(match(['error~=^PaymentDeclined: card'])).toBe(true);
    expect(match(['header.x-tenant=acme'])).toBe(true);
    expect(match(['header.x-warren-attempts=3'])).toBe(true);
    expect(match(['header.x-missing=acme'])).toBe(false);
    expect(match(['jobType=order.created', 'error=timeout'])).toBe(false);
    expect(match(['jobType~=created$'], view({ jobType: null }))).toBe(false);
  });

  it('--since is inclusive, --until exclusive, on the last failure time; messages without a time never match a time filter', () => {
    const selection = parseSelection({ since: '2024-05-01T10:05:00Z', until: '2024-05-01T11:00:00Z' });
    expect(matchesSelection(selection, view(), {})).toBe(true);
    expect(matchesSelection(selection, view({ failedAt: '2024-05-01T11:00:00.000Z' }), {})).toBe(false);
    expect(matchesSelection(selection, view({ failedAt: '2024-05-01T10:04:59.999Z' }), {})).toBe(false);
    expect(matchesSelection(selection, view({ failedAt: null, firstFailedAt: null }), {})).toBe(false);
    expect(isEmptySelection(parseSelection({}))).toBe(true);
    expect(isEmptySelection(selection)).toBe(false);
  });

  it('times are ISO dates or durations ago; bad or inverted ranges are input errors', () => {
    const now = new Date('2024-05-01T12:00:00Z');
    expect(parseTime('2h', now, '--since')).toBe(Date.parse('2024-05-01T10:00:00Z'));
    expect(parseTime('2024-04-30', now, '--since')).toBe(Date.parse('2024-04-30'));
    expect(() => parseTime('yesterday', now, '--since')).toThrow(/bad --since "yesterday"/);
    expect(() => parseSelection({ since: '1h', until: '2h' }, now)).toThrow(/--since must be earlier/);
  });

  it('~= runs on RE2 in linear time: a catastrophic-backtracking pattern over many 31-character errors is fast', () => {
    const selection = parseSelection({ filters: ['error~=^(a+)+$'] });
    const poison = view({ error: { class: 'E', message: `${'a'.repeat(30)}!` } });
    const started = performance.now();
    let matched = 0;
    for (let i = 0; i < 2_000; i++) if (matchesSelection(selection, poison, {})) matched++;
    // A backtracking engine needs seconds for ONE of these (2^30 paths); RE2 does all 2,000 in milliseconds.
    expect(matched).toBe(0);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(matchesSelection(selection, view({ error: { class: 'aaa', message: 'aaaa' } }), {})).toBe(true);
  });

  it('~= takes RE2 syntax, and refuses what RE2 cannot do in linear time, over-long patterns and too many filters', () => {
    expect(matchesSelection(parseSelection({ filters: ['error~=(?i)^payment'] }), view(), {})).toBe(true);
    expect(() => parseFilter('error~=(a)\\1')).toThrow(/invalid regular expression \(RE2 syntax/);
    expect(() => parseFilter('error~=(?=card)')).toThrow(DlqInputError);
    expect(() => parseFilter(`error~=${'a'.repeat(MAX_PATTERN_CHARS + 1)}`)).toThrow(/longer than 256 characters/);
    expect(() => parseFilter('error~=[a-z]{1,1000}')).toThrow(/too large/);
    expect(() => parseSelection({ filters: ['error~=a{300}', 'id~=b{300}'] })).toThrow(/too large together/);
    expect(() => parseSelection({ filters: Array.from({ length: MAX_FILTERS + 1 }, () => 'id=x') })).toThrow(/too many filters/);
    expect(() => parseFilter(`id=${'x'.repeat(2_000)}`)).toThrow(/longer than 1024/);
  });
});
