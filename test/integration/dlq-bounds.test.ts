import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_GROUPS, MAX_LIST_RESPONSE_BYTES } from '../../src/dlq/bounds.ts';
import type { RunningProducer } from '../../src/producer/index.ts';
import { ADMIN, createOrdersScenario, depth, fillQueue, runWarren, startTestProducer, type DlqScenario } from './dlq-fixtures.ts';

// Issue 11 item 4 saw 32 MB from a DLQ of 20,000 dead letters, each with its
// own long error. Here just past MAX_GROUPS of them (10,500 × ~600 characters,
// over 6 MB if unbounded; every full scan costs CI time): every list answer
// stays under MAX_LIST_RESPONSE_BYTES (256 KiB) however the query is written,
// the distinct errors past MAX_GROUPS fold into one group, none changes the queue.
const TOTAL = MAX_GROUPS + 500;

describe(`bounded DLQ lists over ${TOTAL} distinct errors`, () => {
  let s: DlqScenario;
  let producer: RunningProducer;

  beforeAll(async () => {
    s = await createOrdersScenario('dlq-bounds');
    // Straight into the DLQ with warren's dead-letter headers: ~600-character errors, all different.
    await fillQueue(s.channel, 'inventory.dlq', TOTAL, (i) => ({
      id: `b-${i}`,
      consumer: 'inventory',
      errorClass: 'StockError',
      errorMessage: `sku ${i} unknown: ${'\u0001"é😀 '.repeat(100)}${i}`,
    }));
    producer = await startTestProducer(s);
  }, 300_000);
  afterAll(async () => {
    await producer?.close();
    await s?.cleanup();
  });

  const call = async (path: string, body?: unknown) => {
    const response = await fetch(`${producer.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(240_000),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, bytes: bytes.length, body: JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
  };

  it('the largest page of messages and groups stays under the bound; counts cover the whole queue', async () => {
    const largest = await call('/v1/dlq/inventory.dlq?limit=100&groupLimit=100');
    expect(largest.status).toBe(200);
    expect(largest.bytes).toBeLessThan(MAX_LIST_RESPONSE_BYTES);
    expect(largest.body).toMatchObject({ count: TOTAL, groupCount: MAX_GROUPS + 1, limit: 100, nextOffset: 100, groupLimit: 100, nextGroupOffset: 100 });
    expect(largest.body.messages).toHaveLength(100);
    const groups = largest.body.groups as Array<{ error: { class: string; message: string }; count: number }>;
    expect(groups).toHaveLength(100);
    // Errors past the first 10,000 distinct ones are counted in one group (the largest here).
    expect(groups[0]).toMatchObject({ error: { class: '(other)' }, count: TOTAL - MAX_GROUPS });
    expect(groups.slice(1).every((group) => group.count === 1 && group.error.message.endsWith('…'))).toBe(true);
    const message = (largest.body.messages as Array<{ error: { message: string } }>)[0];
    expect(message?.error.message.endsWith('…')).toBe(true);
  }, 600_000);

  it('queries asking for more, less or something else are refused with a small 400, before any scan', async () => {
    for (const query of ['?limit=1000000', '?limit=101', '?limit=-1', '?limit=1.5', '?limit=abc', '?limit=1&limit=2', '?limit[]=5', '?groupLimit=100000', '?offset=-3', '?everything=1', `?limit=${'9'.repeat(400)}`]) {
      const response = await call(`/v1/dlq/inventory.dlq${query}`);
      expect(response.status, query).toBe(400);
      expect(response.bytes, query).toBeLessThan(4_096);
    }
    for (const body of [{ dryRun: true, listLimit: 10_000 }, { dryRun: true, listLimit: -1 }, { dryRun: true, listOffset: 1e12 }, { dryRun: true, list: 'all' }]) {
      const response = await call('/v1/dlq/inventory.dlq/replay', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.bytes).toBeLessThan(4_096);
    }
  });

  it("a dry run's selection is a bounded page too", async () => {
    const replay = await call('/v1/dlq/inventory.dlq/replay', { dryRun: true, filter: 'error~=^Stock', listLimit: 100 });
    expect(replay.status).toBe(200);
    expect(replay.bytes).toBeLessThan(MAX_LIST_RESPONSE_BYTES);
    expect(replay.body).toMatchObject({ replayed: TOTAL, listLimit: 100, nextListOffset: 100 });
    expect(replay.body.wouldReplay).toHaveLength(100);
    expect(await depth(s.connection, 'inventory.dlq')).toBe(TOTAL);
  }, 600_000);

  it('`warren dlq list --json` keeps the same bound and shape', async () => {
    const result = await runWarren(['dlq', 'list', 'inventory.dlq', '--json', '--limit', '100', '--group-limit', '100', '--topology', s.topologyFile], s.vhost.url, { timeoutMs: 300_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(Buffer.byteLength(result.stdout)).toBeLessThan(MAX_LIST_RESPONSE_BYTES);
    const listing = JSON.parse(result.stdout);
    expect(Object.keys(listing).sort()).toEqual(['count', 'groupCount', 'groupLimit', 'groupOffset', 'groups', 'limit', 'messages', 'nextGroupOffset', 'nextOffset', 'offset', 'queue']);
    expect(Object.keys(listing.messages[0]).sort()).toEqual(['attempts', 'error', 'firstFailedAt', 'id', 'jobType', 'origin', 'payloadPreview']);
    expect(await depth(s.connection, 'inventory.dlq')).toBe(TOTAL);
  }, 600_000);
});
