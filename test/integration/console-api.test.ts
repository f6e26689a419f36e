import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProducer } from '../../src/producer/index.ts';
import { ADMIN, createScenario, DLQ, peekIds, publishDeadLetters, startTestProducer, type DlqScenario } from './dlq-fixtures.ts';

// What the console reads beyond the older routes: the page itself, whose
// each queue is, a DLQ's messages filtered, and one dead letter in full.
describe('the routes the console uses', () => {
  let s: DlqScenario;
  let producer: RunningProducer;
  const get = async (path: string, headers: Record<string, string> = ADMIN) => {
    const response = await fetch(`${producer.url}${path}`, { headers });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };

  beforeAll(async () => {
    s = await createScenario('console-api');
    producer = await startTestProducer(s);
    await publishDeadLetters(s.channel, [
      { id: 'a-1', type: 'paid', errorClass: 'Gateway', errorMessage: 'answered 502' },
      { id: 'b-1', type: 'created', errorClass: 'Stock', errorMessage: 'sku unknown' },
      { id: 'a-2', type: 'paid', errorClass: 'Gateway', errorMessage: 'answered 502' },
    ]);
  });
  afterAll(async () => {
    await producer?.close();
    await s?.cleanup();
  });

  it('serves the page and its bundle without a token, same-origin only (no data in them)', async () => {
    const page = await get('/console', {});
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Plain HTTP on a private address must keep working: no upgrade of the page's own requests.
    expect(csp).not.toContain('upgrade-insecure-requests');
    const script = await get('/console/app.js', {});
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.text).toContain('/v1/queues');
    expect((await get('/console/app.css', {})).status).toBe(200);
    expect((await get('/console/nothing', {})).status).toBe(404);
  });

  it('GET /v1/queues says whose each queue is and what it is to that consumer', async () => {
    const body = JSON.parse((await get('/v1/queues')).text) as { queues: Array<{ name: string; consumer: string | null; kind: string | null }> };
    expect(body.queues.map((q) => [q.name, q.consumer, q.kind]).sort()).toEqual([
      ['billing', 'billing', 'work'],
      ['billing.dlq', 'billing', 'dead-letter'],
      ['billing.retry.1s', 'billing', 'retry'],
    ]);
  });

  it("pages a filter's messages, counts them, and still groups the whole queue", async () => {
    const before = await peekIds(s.connection, DLQ);
    const listing = JSON.parse((await get(`/v1/dlq/${DLQ}?filter=jobType%3Dpaid&filter=error%3DGateway%3A%20answered&limit=1`)).text) as Record<string, unknown>;
    expect(listing).toMatchObject({ count: 3, matched: 2, groupCount: 2, nextOffset: 1 });
    expect((listing.messages as Array<{ id: string }>).map((m) => m.id)).toEqual(['a-1']);
    const unfiltered = JSON.parse((await get(`/v1/dlq/${DLQ}`)).text) as Record<string, unknown>;
    expect(unfiltered.matched).toBeUndefined();
    expect((await get(`/v1/dlq/${DLQ}?filter=nope%3D1`)).status).toBe(400);
    expect((await get(`/v1/dlq/${DLQ}?${Array.from({ length: 17 }, () => 'filter=id%3Dx').join('&')}`)).status).toBe(400);
    expect(await peekIds(s.connection, DLQ)).toEqual(before);
  });

  it('shows one dead letter in full, found by id, and leaves the queue as it was', async () => {
    const before = await peekIds(s.connection, DLQ);
    const found = await get(`/v1/dlq/${DLQ}/messages/a-2`);
    expect(found.status).toBe(200);
    const detail = JSON.parse(found.text) as Record<string, unknown>;
    expect(detail).toMatchObject({
      id: 'a-2',
      jobType: 'paid',
      position: 2,
      error: { class: 'Gateway', message: 'answered 502' },
      payload: '{"id":"a-2","n":"a-2"}',
      payloadTruncated: false,
      properties: { contentType: 'application/json' },
    });
    expect((detail.headers as Record<string, unknown>)['x-warren-error-class']).toBe('Gateway');
    expect(await peekIds(s.connection, DLQ)).toEqual(before);

    const missing = await get(`/v1/dlq/${DLQ}/messages/zzz`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'MESSAGE_NOT_FOUND' } });
    expect((await get(`/v1/dlq/${DLQ}/messages/a-2`, {})).status).toBe(401);
    expect((await get(`/v1/dlq/${DLQ}/messages/a-2?x=1`)).status).toBe(400);
    expect((await get(`/v1/dlq/billing/messages/a-2`)).status).toBe(404);
  });
});
