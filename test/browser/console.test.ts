import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { NonRetryableError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { jobHeaders } from '../../src/message/headers.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { defineWorker, Worker, type WorkerDefinition } from '../../src/worker/index.ts';
import { openHistory, type JobHistoryHandle } from '../../src/history/index.ts';
import { createTestVhost, uniqueName, type TestVhost } from '../support/broker.ts';
import { launchChromium, type Browser } from './chromium.ts';

// The console in a real browser, against a real producer, broker and
// workers, with the job history on: billing and shipping both consume every
// order; billing fails some job types into its DLQ and an invoice once
// (retried); reports has a backlog and no worker; audit's worker is
// started, then stopped.
const TOPOLOGY = `
version: 1
exchanges:
  shop: { type: topic }
jobs:
  order.invoiced:
    exchange: shop
    routingKey: order.invoiced
    schema: { type: object, required: [id], properties: { id: { type: string } } }
consumers:
  billing:
    source: { exchange: shop, pattern: "order.*" }
    retry: { delays: [1s] }
    deadLetter: { queueType: classic }
  shipping:
    source: { exchange: shop, pattern: "order.*" }
  reports:
    source: { exchange: shop, pattern: "report.*" }
  audit:
    source: { exchange: shop, pattern: "audit.*" }
`;
const ADMIN = 'console-admin-token';
const ENQUEUE = 'console-enqueue-token';
// Every run takes the screenshots; they land in the README's docs/console/ only when asked
// (`WARREN_CONSOLE_SCREENSHOTS=docs/console npm test`), so a test run leaves the checkout clean.
const SHOTS = join(import.meta.dirname, '..', '..', process.env.WARREN_CONSOLE_SCREENSHOTS ?? join('test-results', 'console'));
const REPORTS_BACKLOG = 37;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const HISTORY_SCHEMA = uniqueName('warren_history_console').replaceAll(/[^a-z0-9_]/g, '_').slice(0, 40);

const logger = createLogger('test', { level: 'silent', pretty: false });

describe('the console in Chromium', () => {
  let vhost: TestVhost;
  let plan: TopologyPlan;
  let producer: RunningProducer;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let browser: Browser;
  let page: Page;
  const workers: Worker[] = [];
  const pageErrors: string[] = [];
  let audit: Worker;
  let producerHistory: JobHistoryHandle;
  let workerHistory: JobHistoryHandle;
  /** Invoices billing has failed once already (the second attempt succeeds). */
  const failedOnce = new Set<string>();
  /** Job types billing's handler fails for, as a code bug would. */
  const broken = new Map<string, string>([
    ['paid', 'PaymentGatewayDown: gateway answered 502'],
    ['refunded', 'RefundBug: amount is negative'],
  ]);
  const paid = Array.from({ length: 4 }, (_, i) => `paid-${i}`);
  const refunded = Array.from({ length: 3 }, (_, i) => `refunded-${i}`);
  const created = Array.from({ length: 5 }, (_, i) => `created-${i}`);
  const effects = { billing: new Map<string, number>(), shipping: new Map<string, number>() };

  const count = (map: Map<string, number>, id: string): void => {
    map.set(id, (map.get(id) ?? 0) + 1);
  };

  beforeAll(async () => {
    browser = await launchChromium();
    vhost = await createTestVhost('console');
    const parsed = parseTopology(TOPOLOGY, 'console.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    plan = parsed.value.plan;
    await declarePlanAt(vhost.url, plan);
    connection = await connect(vhost.url);
    channel = await connection.createConfirmChannel();
    const history = { url: DATABASE_URL, schema: HISTORY_SCHEMA, writer: { flushIntervalMs: 20 } };
    producerHistory = openHistory(history, { logger });
    workerHistory = openHistory(history, { logger });
    producer = await startProducer({ plan, amqpUrls: [vhost.url], managementUrl: vhost.managementUrl, apiTokens: `${ADMIN}:admin,${ENQUEUE}:enqueue`, port: 0, logger, history: producerHistory });
    const schema = z.object({ id: z.string() });
    const start = async (definition: WorkerDefinition): Promise<Worker> => {
      const worker = new Worker([definition], plan, { urls: [vhost.url], logger, workerId: `console-${workers.length}`, history: workerHistory });
      await worker.start();
      workers.push(worker);
      return worker;
    };
    await start(defineWorker({
      consumer: 'billing',
      schema,
      handle: (payload, ctx) => {
        if (ctx.jobType === 'order.invoiced' && !failedOnce.has(payload.id)) {
          failedOnce.add(payload.id);
          throw new Error('invoice service timed out');
        }
        const failure = broken.get(ctx.jobType ?? '');
        if (failure !== undefined) {
          const [name = 'Error', message = ''] = failure.split(': ');
          throw Object.assign(new NonRetryableError(message), { name });
        }
        count(effects.billing, payload.id);
      },
    }));
    await start(defineWorker({ consumer: 'shipping', schema, handle: (payload) => count(effects.shipping, payload.id) }));
    audit = await start(defineWorker({ consumer: 'audit', schema, handle: () => undefined }));
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    // Script errors and Content-Security-Policy violations. Chromium also logs every 4xx answer as an error: a refused
    // token's 401/403 is expected, and so is a 409 DLQ_BUSY (a page left while it read a DLQ), which the console retries.
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 40[139]/.test(message.text())) pageErrors.push(`${message.text()} (${message.location().url})`);
    });
    await mkdir(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    for (const worker of workers) await worker.stop().catch(() => undefined);
    await producer?.close();
    for (const handle of [producerHistory, workerHistory]) await handle?.close();
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS "${HISTORY_SCHEMA}" CASCADE`);
    await db.end();
    await connection?.close().catch(() => undefined);
    await vhost?.cleanup();
  });

  const publish = async (routingKey: string, ids: string[]): Promise<void> => {
    const type = routingKey.split('.')[1] ?? routingKey;
    for (const id of ids) {
      channel.publish('shop', routingKey, Buffer.from(JSON.stringify({ id })), {
        persistent: true,
        contentType: 'application/json',
        messageId: id,
        type,
        timestamp: Math.floor(Date.now() / 1000),
        headers: jobHeaders({ exchange: 'shop', routingKey, now: new Date() }),
      });
    }
    await channel.waitForConfirms();
  };

  const depth = async (queue: string): Promise<number> => {
    const probe = await connection.createChannel();
    try {
      return (await probe.checkQueue(queue)).messageCount;
    } finally {
      await probe.close();
    }
  };

  const until = async (check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out waiting');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const row = (consumer: string) => page.locator(`tr[data-consumer="${consumer}"]`);
  const cell = (consumer: string, metric: string) => row(consumer).locator(`[data-metric="${metric}"] .value`);

  it('a wrong token gets the login prompt and no data', async () => {
    await page.goto(`${producer.url}/console`);
    await page.getByLabel('Admin token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That token was refused');
    expect(await page.getByLabel('Admin token').isVisible()).toBe(true);
    expect(await page.locator('table').count()).toBe(0);
    expect(await page.evaluate("sessionStorage.getItem('warren.console.token')")).toBeNull();
    await page.screenshot({ path: join(SHOTS, 'login.png') });

    // An enqueue token is a real token, but not an admin one: still the prompt.
    await page.getByLabel('Admin token').fill(ENQUEUE);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('admin token');
    expect(await page.locator('table').count()).toBe(0);
  });

  it('the overview shows a known backlog as lag, and a stopped worker as not subscribed', async () => {
    await publish('report.daily', Array.from({ length: REPORTS_BACKLOG }, (_, i) => `r-${i}`));
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The management API refreshes its figures every few seconds.
    await expect.poll(() => cell('reports', 'lag').textContent(), { timeout: 30_000 }).toBe(String(REPORTS_BACKLOG));
    expect(await row('reports').locator('.badge').textContent()).toBe('not subscribed');
    await expect.poll(() => row('audit').locator('.badge').textContent(), { timeout: 30_000 }).toBe('subscribed');
    expect(await cell('audit', 'consumers').textContent()).toBe('1');

    await audit.stop();
    await expect.poll(() => row('audit').locator('.badge').textContent(), { timeout: 30_000 }).toBe('not subscribed');
    expect(await cell('audit', 'consumers').textContent()).toBe('0');
    expect(await row('audit').getAttribute('class')).toContain('problem');
    expect(await row('billing').locator('.badge').textContent()).toBe('subscribed');
    expect(await row('billing').getAttribute('class')).not.toContain('problem');
  });

  it('a DLQ group is replayed from the page after a dry run, and processed once by its consumer only', async () => {
    await publish('order.paid', paid);
    await publish('order.refunded', refunded);
    await publish('order.created', created);
    await until(async () => (await depth('billing.dlq')) === 7 && effects.shipping.size === 12);
    await expect.poll(() => cell('billing', 'dlqDepth').textContent(), { timeout: 30_000 }).toBe('7');
    await expect.poll(() => row('billing').locator('.tag').allTextContents(), { timeout: 30_000 }).toContain('DLQ growing');
    await page.screenshot({ path: join(SHOTS, 'overview.png') });

    await cell('billing', 'dlqDepth').getByRole('link').click();
    await expect.poll(() => page.getByTestId('dlq-count').textContent(), { timeout: 30_000 }).toBe('7');
    const paidGroup = page.locator('tr[data-group="paid|PaymentGatewayDown"]');
    expect(await paidGroup.locator('td').first().textContent()).toBe('4');
    await page.screenshot({ path: join(SHOTS, 'dead-letters.png') });

    // A group's messages, and one in full.
    await paidGroup.getByRole('link', { name: /Messages of paid/ }).click();
    await expect.poll(() => page.locator('table.messages tbody tr').count(), { timeout: 30_000 }).toBe(4);
    expect(await page.locator('table.messages tbody th').allTextContents()).toEqual(paid);
    await page.screenshot({ path: join(SHOTS, 'group-messages.png') });
    await page.getByRole('link', { name: 'paid-2' }).click();
    await expect.poll(() => page.getByLabel('Payload').textContent(), { timeout: 30_000 }).toContain('"id": "paid-2"');
    expect(await page.getByLabel('Headers').textContent()).toContain('x-warren-error-class');
    await page.screenshot({ path: join(SHOTS, 'message.png'), fullPage: true });

    // The fix is out: replay the group, counting first.
    broken.delete('paid');
    await page.goBack();
    await page.goBack();
    await page.locator('tr[data-group="paid|PaymentGatewayDown"]').getByRole('button', { name: /Replay paid/ }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: /^Replay \d/ });
    expect(await dialog.getByRole('button', { name: 'Replay', exact: true }).isDisabled()).toBe(true);
    await dialog.getByLabel(/Rate/).fill('50');
    await dialog.getByRole('button', { name: 'Count (dry run)' }).click();
    await expect.poll(() => dialog.getByTestId('dry-run-count').textContent(), { timeout: 30_000 }).toBe('4');
    expect(await depth('billing.dlq')).toBe(7);
    expect(await confirm.textContent()).toBe('Replay 4 messages');
    await page.screenshot({ path: join(SHOTS, 'replay.png') });
    await confirm.click();
    await expect.poll(() => dialog.getByTestId('replay-result').textContent(), { timeout: 30_000 }).toContain('Replayed 4');

    await until(() => paid.every((id) => effects.billing.get(id) === 1));
    await until(async () => (await depth('billing')) === 0);
    expect(paid.map((id) => effects.billing.get(id))).toEqual([1, 1, 1, 1]);
    // Shipping had them once, from the first publish; the replay went to billing alone.
    expect(paid.map((id) => effects.shipping.get(id))).toEqual([1, 1, 1, 1]);
    expect(await depth('shipping')).toBe(0);
    expect(await depth('billing.dlq')).toBe(3);
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('a purge needs its confirmation: the queue name typed after a dry-run count', async () => {
    await expect.poll(() => page.getByTestId('dlq-count').textContent(), { timeout: 30_000 }).toBe('3');
    await page.locator('tr[data-group="refunded|RefundBug"]').getByRole('button', { name: /Purge refunded/ }).click();
    const dialog = page.getByRole('dialog');
    const typed = dialog.getByLabel(/Type the queue name/);
    const purge = dialog.getByRole('button', { name: /^Purge/ });
    expect(await purge.isDisabled()).toBe(true);
    expect(await typed.isDisabled()).toBe(true);
    await dialog.getByRole('button', { name: 'Count (dry run)' }).click();
    await expect.poll(() => dialog.getByTestId('dry-run-count').textContent(), { timeout: 30_000 }).toBe('3');
    expect(await purge.textContent()).toBe('Purge 3 messages from billing.dlq');
    expect(await purge.isDisabled()).toBe(true);
    await typed.fill('billing');
    expect(await purge.isDisabled()).toBe(true);
    await typed.fill('billing.dlq');
    expect(await purge.isDisabled()).toBe(false);
    expect(await depth('billing.dlq')).toBe(3);
    await page.screenshot({ path: join(SHOTS, 'purge.png') });
    await purge.click();
    await expect.poll(() => dialog.getByTestId('purge-result').textContent(), { timeout: 30_000 }).toBe('Deleted 3; kept 0.');
    expect(await depth('billing.dlq')).toBe(0);
    expect(refunded.some((id) => effects.billing.has(id))).toBe(false);
    await dialog.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByRole('dialog').count()).toBe(0);
  });

  it("the job page shows a job's retried attempt, per consumer, from the history", async () => {
    const response = await fetch(`${producer.url}/v1/jobs/order.invoiced`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, 'idempotency-key': 'inv-1' },
      body: JSON.stringify({ id: 'inv-1' }),
    });
    expect(response.status).toBe(202);
    await until(() => effects.billing.get('inv-1') === 1 && effects.shipping.get('inv-1') === 1);
    for (const handle of [producerHistory, workerHistory]) await handle.writer.flush();

    await page.getByRole('link', { name: 'Job', exact: true }).click();
    await page.getByLabel('Job type').selectOption('order.invoiced');
    await page.getByLabel('Job id').fill('inv-1');
    await page.getByRole('button', { name: 'Show' }).click();
    const billing = page.locator('section.timeline[data-consumer="billing"]');
    await expect.poll(() => billing.locator('tbody tr').count(), { timeout: 30_000 }).toBe(2);
    expect(await billing.locator('h2 .badge').textContent()).toBe('succeeded');
    expect(await billing.locator('tbody tr').first().getAttribute('data-outcome')).toBe('retried');
    expect(await billing.locator('tbody tr').first().textContent()).toContain('invoice service timed out');
    expect(await billing.locator('tbody tr').nth(1).getAttribute('data-outcome')).toBe('succeeded');
    const shipping = page.locator('section.timeline[data-consumer="shipping"]');
    expect(await shipping.locator('tbody tr').count()).toBe(1);
    expect(page.url()).toContain('#/job/order.invoiced/inv-1');
    await page.screenshot({ path: join(SHOTS, 'job.png'), fullPage: true });
    // Across every page of the run: no script error, nothing the page's CSP refused.
    expect(pageErrors).toEqual([]);
  });
});
