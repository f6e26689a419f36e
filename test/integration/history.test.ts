import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../src/errors.ts';
import { openHistory, type JobHistory, type JobHistoryHandle, type JobSearchPage } from '../../src/history/index.ts';
import { createLogger } from '../../src/log.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { defineWorker, Worker, type JobSettledEvent } from '../../src/worker/index.ts';
import { uniqueName } from '../support/broker.ts';
import { createOrdersScenario, type DlqScenario } from './dlq-fixtures.ts';

/**
 * The job history end to end, in the reference scenario (topology/orders.yaml):
 * orders posted over HTTP, workers for three of its consumers, each with
 * its own history handle (as separate processes would have), all writing to
 * a PostgreSQL schema of this test's own.
 */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = uniqueName('warren_history_t').replaceAll(/[^a-z0-9_]/g, '_').slice(0, 40);
const logger = createLogger('test', { level: 'silent', pretty: false });
const TOKENS = { admin: 'history-admin', mine: 'history-enqueue', other: 'history-other' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'warren.js');

/** Orders whose id starts with these fail as told, once per consumer. */
const failedOnce = new Set<string>();
const settled: JobSettledEvent[] = [];

function order(orderId: string) {
  return {
    orderId,
    customerId: 'c-1',
    items: [{ sku: 'sku-1', quantity: 1, price: 10 }],
    total: 10,
    currency: 'EUR',
    createdAt: new Date().toISOString(),
  };
}

const failOnce = (consumer: string, orderId: string, error: () => Error) => {
  const key = `${consumer}:${orderId}`;
  if (failedOnce.has(key)) return;
  failedOnce.add(key);
  throw error();
};

const definitions = [
  defineWorker({
    consumer: 'inventory',
    handle: async (payload) => {
      const { orderId } = payload as { orderId: string };
      if (orderId.startsWith('flaky-')) failOnce('inventory', orderId, () => new TypeError('stock service timed out'));
    },
  }),
  defineWorker({
    consumer: 'loyalty',
    handle: async (payload) => {
      const { orderId } = payload as { orderId: string };
      if (orderId.startsWith('fatal-')) failOnce('loyalty', orderId, () => new NonRetryableError('customer unknown'));
    },
  }),
  defineWorker({ consumer: 'payments', handle: async () => undefined }),
];

let scenario: DlqScenario;
let producer: RunningProducer;
let worker: Worker;
let producerHistory: JobHistoryHandle;
let workerHistory: JobHistoryHandle;
let db: pg.Pool;

const historyOptions = { url: DATABASE_URL, schema, writer: { flushIntervalMs: 20 } };

beforeAll(async () => {
  scenario = await createOrdersScenario('history');
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  producerHistory = openHistory(historyOptions, { logger });
  workerHistory = openHistory(historyOptions, { logger });
  producer = await startProducer({
    plan: scenario.plan,
    amqpUrls: [scenario.vhost.url],
    managementUrl: scenario.vhost.managementUrl,
    apiTokens: `${TOKENS.admin}:admin,${TOKENS.mine}:enqueue,${TOKENS.other}:enqueue`,
    port: 0,
    logger,
    history: producerHistory,
  });
  worker = new Worker(definitions, scenario.plan, {
    urls: [scenario.vhost.url],
    logger,
    history: workerHistory,
    onJobSettled: (event) => settled.push(event),
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await producer?.close();
  await producerHistory?.close();
  await workerHistory?.close();
  await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db?.end();
  await scenario?.cleanup();
});

async function post(path: string, body: unknown, token = TOKENS.mine, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${producer.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(token), ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function get<T = Record<string, unknown>>(path: string, token = TOKENS.admin): Promise<{ status: number; body: T }> {
  const response = await fetch(`${producer.url}${path}`, { headers: bearer(token) });
  return { status: response.status, body: (await response.json()) as T };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const finalFor = (id: string, consumer: string) => settled.some((e) => e.jobId === id && e.consumer === consumer && (e.outcome === 'succeeded' || e.outcome === 'dead-lettered'));

/** Posts an order and waits until each of the three consumers has settled it for good and every history row is written. */
async function postAndSettle(orderId: string, token = TOKENS.mine): Promise<string> {
  const accepted = await post('/v1/jobs/order.created', order(orderId), token);
  expect(accepted.status).toBe(202);
  const id = String(accepted.body.id);
  await waitFor(`${orderId} settled`, () => ['inventory', 'loyalty', 'payments'].every((consumer) => finalFor(id, consumer)));
  await producerHistory.writer.flush();
  await workerHistory.writer.flush();
  return id;
}

describe('job history', () => {
  it('shows an order accepted over HTTP, the failed attempt, the retry and the success, per consumer and in order', async () => {
    const id = await postAndSettle('flaky-1');
    const { status, body: job } = await get<JobHistory>(`/v1/jobs/order.created/${encodeURIComponent(id)}`);
    expect(status).toBe(200);
    // No OpenTelemetry SDK in this file: nothing wrote a traceparent (history-trace.test.ts has one).
    expect(job).toMatchObject({ id, jobType: 'order.created', correlationId: null, traceId: null });
    expect(job.acceptedAt).not.toBeNull();
    expect(job.payloadSize).toBeGreaterThan(0);
    expect(job.consumers.map((c) => c.consumer)).toEqual(['inventory', 'loyalty', 'payments']);

    const inventory = job.consumers.find((c) => c.consumer === 'inventory');
    expect(inventory?.state).toBe('succeeded');
    expect(inventory?.attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'retried'],
      [2, 'succeeded'],
    ]);
    const [failed, retry] = inventory?.attempts ?? [];
    expect(failed?.error).toEqual({ class: 'TypeError', message: 'stock service timed out' });
    expect(retry?.error).toBeNull();
    expect(failed?.workerId).toBe(worker.workerId);
    // In order: accepted, then the failed attempt, then (after the 1 s retry tier) the retry.
    const t = (iso: string | null | undefined) => Date.parse(iso ?? '');
    expect(t(job.acceptedAt)).toBeLessThanOrEqual(t(failed?.startedAt));
    expect(t(failed?.startedAt)).toBeLessThanOrEqual(t(failed?.finishedAt));
    expect(t(failed?.finishedAt)).toBeLessThanOrEqual(t(retry?.startedAt));

    for (const consumer of ['loyalty', 'payments']) {
      const timeline = job.consumers.find((c) => c.consumer === consumer);
      expect(timeline?.state, consumer).toBe('succeeded');
      expect(timeline?.attempts.map((a) => [a.attempt, a.outcome]), consumer).toEqual([[1, 'succeeded']]);
    }
    expect(job.events).toEqual([]);
  });

  it('prints the same timeline with warren job <id>, and the same body with --json', async () => {
    const id = await postAndSettle('flaky-2');
    const env = { ...process.env, WARREN_HISTORY_URL: DATABASE_URL, WARREN_HISTORY_SCHEMA: schema, WARREN_LOG_PRETTY: '0' };
    const text = (await run(process.execPath, [BIN, 'job', id], { env })).stdout;
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe(`job ${id} (order.created)`);
    expect(lines[1]).toMatch(/^ {2}accepted \d{4}-\d\d-\d\dT/);
    const inventoryAt = lines.findIndex((line) => /^ {2}inventory +succeeded$/.test(line));
    expect(inventoryAt).toBeGreaterThan(1);
    expect(lines[inventoryAt + 1]).toMatch(/^ {4}#1 .* retried .*TypeError: stock service timed out$/);
    expect(lines[inventoryAt + 2]).toMatch(/^ {4}#2 .* succeeded /);
    expect(lines.some((line) => /^ {2}loyalty +succeeded$/.test(line))).toBe(true);

    const json = JSON.parse((await run(process.execPath, [BIN, 'job', id, '--json'], { env })).stdout) as unknown;
    expect(json).toEqual((await get(`/v1/jobs/order.created/${encodeURIComponent(id)}`)).body);

    const missing = await run(process.execPath, [BIN, 'job', 'no-such-job'], { env }).catch((error: { code: number; stderr: string }) => error);
    expect(missing).toMatchObject({ code: 1 });
    const off = await run(process.execPath, [BIN, 'job', id], { env: { ...env, WARREN_HISTORY_URL: '' } }).catch((error: { code: number; stderr: string }) => error);
    expect(off).toMatchObject({ code: 1 });
    expect((off as { stderr: string }).stderr).toMatch(/WARREN_HISTORY_URL/);
  });

  it('records a DLQ replay as an event of the job, and the attempts after it', async () => {
    const accepted = await post('/v1/jobs/order.created', order('fatal-1'));
    const id = String(accepted.body.id);
    await waitFor('dead-lettered by loyalty', () => settled.some((e) => e.jobId === id && e.consumer === 'loyalty' && e.outcome === 'dead-lettered'));
    const replay = await post('/v1/dlq/loyalty.dlq/replay', { filter: [`id=${id}`] }, TOKENS.admin);
    expect(replay.body).toMatchObject({ replayed: 1 });
    await waitFor('replayed and succeeded', () => settled.some((e) => e.jobId === id && e.consumer === 'loyalty' && e.outcome === 'succeeded'));
    await producerHistory.writer.flush();
    await workerHistory.writer.flush();
    const { body: job } = await get<JobHistory>(`/v1/jobs/order.created/${encodeURIComponent(id)}`);
    const loyalty = job.consumers.find((c) => c.consumer === 'loyalty');
    expect(loyalty?.attempts.map((a) => [a.attempt, a.outcome, a.deadLetterReason ?? null])).toEqual([
      [1, 'dead-lettered', 'non-retryable'],
      [1, 'succeeded', null],
    ]);
    expect(loyalty?.state).toBe('succeeded');
    expect(job.events).toMatchObject([{ kind: 'replayed', consumer: 'loyalty', queue: 'loyalty.dlq' }]);
    const replayedAt = Date.parse(job.events[0]?.at ?? '');
    expect(Date.parse(loyalty?.attempts[0]?.finishedAt ?? '')).toBeLessThanOrEqual(replayedAt);
    expect(replayedAt).toBeLessThanOrEqual(Date.parse(loyalty?.attempts[1]?.startedAt ?? ''));
  });

  it('lets an enqueue token read only the jobs it enqueued; admin reads all', async () => {
    const id = await postAndSettle('own-1', TOKENS.mine);
    const path = `/v1/jobs/order.created/${encodeURIComponent(id)}`;
    expect((await get(path, TOKENS.mine)).status).toBe(200);
    expect((await get(path, TOKENS.admin)).status).toBe(200);
    const other = await get<{ error: { code: string } }>(path, TOKENS.other);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('JOB_NOT_FOUND');
    expect((await get('/v1/jobs/order.created', TOKENS.other)).body).toMatchObject({ jobs: [] });
    expect((await get('/v1/jobs/order.created/whatever', 'wrong-token')).status).toBe(401);
    expect((await get('/v1/jobs/no.such.type/x')).status).toBe(404);
    expect((await get(`/v1/jobs/order.created/${encodeURIComponent(id)}?x=1`)).status).toBe(400);
  });

  it('searches by type, state and time range, newest first, page by page', async () => {
    const since = new Date(Date.now() - 1).toISOString();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(await postAndSettle(`page-${n}`));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const query = new URLSearchParams({ from: since, limit: '2', state: 'succeeded', consumer: 'inventory', ...(cursor && { cursor }) });
      const { status, body } = await get<JobSearchPage>(`/v1/jobs/order.created?${query}`);
      expect(status).toBe(200);
      expect(body.jobs.length).toBeLessThanOrEqual(2);
      for (const job of body.jobs) expect(job.consumers.inventory).toBe('succeeded');
      seen.push(...body.jobs.map((job) => job.id));
      cursor = body.nextCursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual([...ids].reverse());
    const none = await get<JobSearchPage>(`/v1/jobs/order.created?${new URLSearchParams({ from: since, state: 'dead-lettered' })}`);
    expect(none.body.jobs).toEqual([]);
    const future = await get<JobSearchPage>(`/v1/jobs/order.created?${new URLSearchParams({ from: new Date(Date.now() + 60_000).toISOString() })}`);
    expect(future.body.jobs).toEqual([]);
    expect((await get('/v1/jobs/order.created?limit=1000')).status).toBe(400);
    expect((await get('/v1/jobs/order.created?state=lost')).status).toBe(400);
    expect((await get('/v1/jobs/order.created?cursor=bogus')).status).toBe(400);
  });

  it('keeps its tables partitioned by day, with partitions made ahead', async () => {
    const { rows } = await db.query<{ parent: string; count: string }>(
      `SELECT p.relname AS parent, count(*)::text AS count FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' GROUP BY p.relname ORDER BY p.relname`,
      [schema],
    );
    // Yesterday, today and two days ahead.
    expect(rows).toEqual([
      { parent: 'attempts', count: '4' },
      { parent: 'events', count: '4' },
      { parent: 'jobs', count: '4' },
    ]);
  });
});
