import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clipText, jsonBytes, MAX_LIST_RESPONSE_BYTES, MAX_PAGE_SIZE, parsePage } from '../../src/dlq/bounds.ts';
import type { DeadLetterView } from '../../src/dlq/dead-letter.ts';
import { DlqInputError } from '../../src/dlq/errors.ts';
import { addFailure, GroupCounter, PageCollector, pageOf, toListed, toSelected, type DlqListing, type ReplaySummary } from '../../src/dlq/report.ts';

// Every DLQ list answer is bounded, whatever the dead letters hold (issue 11 item 4).

/** The costliest text per character in JSON: control characters escape to 6 bytes. */
const WORST = '\u0001'.repeat(100_000);
const worstView = (i: number): DeadLetterView => ({
  id: `${i}${WORST}`,
  jobType: WORST,
  attempts: Number.MAX_SAFE_INTEGER,
  error: { class: WORST, message: `${i}${WORST}` },
  firstFailedAt: new Date(8.64e15).toISOString(),
  failedAt: null,
  origin: { exchange: WORST, routingKey: WORST },
  payloadPreview: WORST,
});

describe('clipText', () => {
  it('keeps short text as it is and cuts long text on a code point, with "…", within the JSON byte budget', () => {
    expect(clipText('card expired', 100)).toBe('card expired');
    const clipped = clipText('é'.repeat(1000), 101);
    expect(clipped.endsWith('…')).toBe(true);
    expect(jsonBytes(clipped)).toBeLessThanOrEqual(101);
    expect(clipText('😀'.repeat(100), 20)).toBe('😀😀😀…');
  });

  it('never exceeds the budget, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 8, max: 300 }), (text, max) => {
        const clipped = clipText(text, max);
        expect(jsonBytes(clipped)).toBeLessThanOrEqual(max);
        if (jsonBytes(text) <= max) expect(clipped).toBe(text);
        else expect(text.startsWith(clipped.slice(0, -1))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('bounded pages', () => {
  it(`the worst possible listing page (${MAX_PAGE_SIZE} messages, ${MAX_PAGE_SIZE} groups, longest texts) stays under ${MAX_LIST_RESPONSE_BYTES} bytes`, () => {
    const counter = new GroupCounter();
    for (let i = 0; i < 200; i++) counter.add(worstView(i));
    const listing: DlqListing = {
      queue: 'q'.repeat(255),
      count: Number.MAX_SAFE_INTEGER,
      groups: counter.result().slice(0, MAX_PAGE_SIZE),
      groupCount: Number.MAX_SAFE_INTEGER,
      groupOffset: 1_000_000_000,
      groupLimit: MAX_PAGE_SIZE,
      nextGroupOffset: 1_000_000_000,
      messages: Array.from({ length: MAX_PAGE_SIZE }, (_, i) => toListed(worstView(i))),
      offset: 1_000_000_000,
      limit: MAX_PAGE_SIZE,
      nextOffset: 1_000_000_000,
    };
    expect(listing.groups).toHaveLength(MAX_PAGE_SIZE);
    expect(Buffer.byteLength(JSON.stringify(listing))).toBeLessThan(MAX_LIST_RESPONSE_BYTES);
  });

  it(`the worst replay summary (${MAX_PAGE_SIZE} listed, every failure different) stays under ${MAX_LIST_RESPONSE_BYTES} bytes`, () => {
    const summary: ReplaySummary = {
      queue: 'q'.repeat(255),
      dryRun: true,
      target: { kind: 'to', exchange: '', routingKey: 'r'.repeat(255) },
      scanned: Number.MAX_SAFE_INTEGER,
      replayed: Number.MAX_SAFE_INTEGER,
      skipped: Number.MAX_SAFE_INTEGER,
      failed: 0,
      failures: [],
      failedByReason: [],
      wouldReplay: Array.from({ length: MAX_PAGE_SIZE }, (_, i) => toSelected(worstView(i))),
      listOffset: 1_000_000_000,
      listLimit: MAX_PAGE_SIZE,
      nextListOffset: 1_000_000_000,
      elapsedMs: Number.MAX_SAFE_INTEGER,
      error: 'x'.repeat(300),
    };
    for (let i = 0; i < 10_000; i++) addFailure(summary, `${i}${WORST}`, `${i}${WORST}`);
    expect(summary.failed).toBe(10_000);
    expect(summary.failures).toHaveLength(100);
    expect(summary.failedByReason).toHaveLength(20);
    expect(summary.failedByReason.reduce((sum, entry) => sum + entry.count, 0)).toBe(10_000);
    expect(Buffer.byteLength(JSON.stringify(summary))).toBeLessThan(MAX_LIST_RESPONSE_BYTES);
  });

  it('counts at most MAX_GROUPS distinct groups; the rest go to one overflow group, and counts still add up', () => {
    const counter = new GroupCounter(50);
    for (let i = 0; i < 120; i++) counter.add({ ...worstView(0), error: { class: 'E', message: `distinct ${i}` } });
    for (let i = 0; i < 5; i++) counter.add({ ...worstView(0), error: { class: 'E', message: 'distinct 3' } });
    const groups = counter.result();
    expect(groups).toHaveLength(51);
    // Sorted by count like any group: the overflow (70) first here.
    expect(groups[0]).toMatchObject({ count: 70, error: { class: '(other)' } });
    expect(groups[1]).toMatchObject({ count: 6, error: { message: 'distinct 3' } });
    expect(groups.reduce((sum, g) => sum + g.count, 0)).toBe(125);
  });

  it('pages: one page of a stream, and the next offset only when more follow', () => {
    const collect = (offset: number, limit: number, total: number) => {
      const page = new PageCollector<number>({ offset, limit });
      for (let i = 0; i < total; i++) page.offer(() => i);
      return { items: page.items, next: page.nextOffset };
    };
    expect(collect(0, 3, 10)).toEqual({ items: [0, 1, 2], next: 3 });
    expect(collect(9, 3, 10)).toEqual({ items: [9], next: undefined });
    expect(collect(6, 4, 10)).toEqual({ items: [6, 7, 8, 9], next: undefined });
    expect(collect(50, 3, 10)).toEqual({ items: [], next: undefined });
    expect(collect(0, 0, 10)).toEqual({ items: [], next: 0 });
    expect(pageOf([1, 2, 3, 4, 5], { offset: 1, limit: 2 })).toEqual({ items: [2, 3], nextOffset: 3 });
    expect(pageOf([1, 2, 3], { offset: 1, limit: 5 })).toEqual({ items: [2, 3] });
  });

  it('page sizes from user input: whole numbers, at most 100; huge, negative or odd values are input errors', () => {
    const names = { offset: '--offset', limit: '--limit' };
    expect(parsePage({}, names)).toEqual({ offset: 0, limit: 20 });
    expect(parsePage({ offset: '40', limit: '100' }, names)).toEqual({ offset: 40, limit: 100 });
    for (const limit of ['101', '-1', '1e3', '2.5', ' ', 'all', '99999999999999999999', 'Infinity']) {
      expect(() => parsePage({ limit }, names), limit).toThrow(DlqInputError);
    }
    expect(() => parsePage({ offset: -5 }, names)).toThrow(/bad --offset/);
  });
});
