import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import { createLogger } from '../../src/log.ts';
import { deadLetterHeaders, jobHeaders } from '../../src/message/headers.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { loadTopology, parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { drainChannel } from '../support/queue-drain.ts';

/**
 * Shared set-up of the DLQ integration tests: a vhost with a small shop
 * topology (consumer `billing` → work queue `billing`, DLQ `billing.dlq`;
 * the DLQ classic by explicit choice, because these tests check that a pass
 * keeps the order of what it leaves behind, which RabbitMQ 3.10 keeps on a
 * classic queue only — see the README's DLQ section),
 * a confirm channel, and the `warren` CLI run as a child process.
 */
export const TOPOLOGY = `
version: 1
exchanges:
  shop: { type: topic }
consumers:
  billing:
    source: { exchange: shop, pattern: "order.*" }
    retry: { delays: [1s] }
    deadLetter: { queueType: classic }
`;

export const DLQ = 'billing.dlq';
export const WORK_QUEUE = 'billing';

export interface DlqScenario {
  vhost: TestVhost;
  topologyFile: string;
  plan: TopologyPlan;
  connection: ChannelModel;
  channel: ConfirmChannel;
  cleanup(): Promise<void>;
}

export async function createScenario(prefix: string, topology = TOPOLOGY): Promise<DlqScenario> {
  const vhost = await createTestVhost(prefix);
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const topologyFile = join(dir, 'topology.yaml');
  await writeFile(topologyFile, topology);
  const parsed = parseTopology(topology, topologyFile);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  await declarePlanAt(vhost.url, parsed.value.plan);
  const connection = await connect(vhost.url);
  const channel = await connection.createConfirmChannel();
  return {
    vhost,
    topologyFile,
    plan: parsed.value.plan,
    connection,
    channel,
    cleanup: async () => {
      await connection.close().catch(() => undefined);
      await vhost.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The reference scenario (topology/orders.yaml: five consumers share `orders`, payments is sharded) in a vhost of its own. */
export async function createOrdersScenario(prefix: string): Promise<DlqScenario> {
  const { plan } = await loadTopology(ORDERS_TOPOLOGY);
  const vhost = await createTestVhost(prefix);
  await declarePlanAt(vhost.url, plan);
  const connection = await connect(vhost.url);
  const channel = await connection.createConfirmChannel();
  return {
    vhost,
    topologyFile: ORDERS_TOPOLOGY,
    plan,
    connection,
    channel,
    cleanup: async () => {
      await connection.close().catch(() => undefined);
      await vhost.cleanup();
    },
  };
}

export const ORDERS_TOPOLOGY = join(import.meta.dirname, '..', '..', 'topology', 'orders.yaml');

/** One dead letter as a worker of `consumer` writes it (job headers + `deadLetterHeaders`). */
export interface DeadLetterSpec {
  id: string;
  consumer: string;
  type?: string;
  errorClass?: string;
  errorMessage?: string;
  /** Where the job says it was first published (a forger may say anything). */
  origin?: { exchange: string; routingKey: string };
  orderingKey?: string;
  failedAt?: Date;
  /** Publish through this consumer's `<via>.dlx` instead of `<consumer>.dlx` (a message that says another consumer failed it). */
  via?: string;
}

export function deadLetterMessage(spec: DeadLetterSpec): { content: Buffer; options: Options.Publish } {
  const now = spec.failedAt ?? new Date();
  const origin = spec.origin ?? { exchange: 'orders', routingKey: spec.type ?? 'order.created' };
  const headers = deadLetterHeaders(jobHeaders({ ...origin, orderingKey: spec.orderingKey, now }), {
    reason: 'non-retryable',
    error: { class: spec.errorClass ?? 'Boom', message: spec.errorMessage ?? 'it failed' },
    attempts: 1,
    worker: 'test-worker',
    consumer: spec.consumer,
    deliveredFrom: origin,
    now,
  });
  return {
    content: Buffer.from(JSON.stringify({ id: spec.id, orderId: spec.orderingKey ?? spec.id })),
    options: { persistent: true, contentType: 'application/json', messageId: spec.id, type: spec.type ?? 'order.created', headers },
  };
}

/** Publishes dead letters as the worker does: through the consumer's dead-letter exchange `<consumer>.dlx`. */
export async function publishToDlx(channel: ConfirmChannel, specs: DeadLetterSpec[]): Promise<void> {
  for (const spec of specs) {
    const { content, options } = deadLetterMessage(spec);
    channel.publish(`${spec.via ?? spec.consumer}.dlx`, '', content, options);
  }
  await channel.waitForConfirms();
}

/** Fills a queue fast (default exchange, confirms awaited per batch): for DLQs of many thousands. */
export async function fillQueue(channel: ConfirmChannel, queue: string, count: number, spec: (i: number) => DeadLetterSpec): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { content, options } = deadLetterMessage(spec(i));
    channel.sendToQueue(queue, content, options);
    if (i % 2_000 === 1_999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
}

export const ADMIN_TOKEN = 'dlq-admin-token';
export const ENQUEUE_TOKEN = 'dlq-enqueue-token';
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** A producer over the scenario's vhost with explicit tokens (the producer refuses to start without). */
export async function startTestProducer(s: DlqScenario): Promise<RunningProducer> {
  return startProducer({
    plan: s.plan,
    amqpUrls: [s.vhost.url],
    managementUrl: s.vhost.managementUrl,
    apiTokens: `${ADMIN_TOKEN}:admin,${ENQUEUE_TOKEN}:enqueue`,
    port: 0,
    logger: createLogger('test', { level: 'silent', pretty: false }),
  });
}

export interface FailedJob {
  id: string;
  type: string;
  errorClass: string;
  errorMessage: string;
  failedAt?: Date;
}

/** Puts jobs in the DLQ as the worker does: the job's own headers plus `deadLetterHeaders`, through `<consumer>.dlx`. */
export async function publishDeadLetters(channel: ConfirmChannel, jobs: FailedJob[]): Promise<void> {
  for (const job of jobs) {
    const now = job.failedAt ?? new Date();
    const headers = deadLetterHeaders(jobHeaders({ exchange: 'shop', routingKey: `order.${job.type}`, now }), {
      reason: 'non-retryable',
      error: { class: job.errorClass, message: job.errorMessage, stack: `${job.errorClass}: ${job.errorMessage}\n    at handler` },
      attempts: 2,
      worker: 'test-worker',
      consumer: 'billing',
      deliveredFrom: { exchange: 'shop', routingKey: `order.${job.type}` },
      now,
    });
    channel.publish('billing.dlx', '', Buffer.from(JSON.stringify({ id: job.id, n: job.id })), {
      persistent: true,
      contentType: 'application/json',
      messageId: job.id,
      type: job.type,
      timestamp: Math.floor(now.getTime() / 1000),
      headers,
    });
  }
  await channel.waitForConfirms();
}

/** Ids in queue order, read without losing any: get and hold, then close the channel (independent of warren's code). */
export async function peekIds(connection: ChannelModel, queue: string): Promise<string[]> {
  const channel = await connection.createChannel();
  const ids: string[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) break;
    ids.push(String(message.properties.messageId));
  }
  await channel.close();
  // The broker requeues what the closed channel held on its own time: wait until it is all
  // back, so that whatever the test does next (a drain, a replay) sees every message.
  const deadline = Date.now() + 10_000;
  while ((await depth(connection, queue)) < ids.length) {
    if (Date.now() > deadline) throw new Error(`peekIds ${queue}: the ${ids.length} peeked messages did not come back`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return ids;
}

/** Takes every message off a queue (destructive, see `drainChannel`): ids and headers, in order. */
export async function drain(connection: ChannelModel, queue: string): Promise<Array<{ id: string; routingKey: string; exchange: string; headers: Record<string, unknown>; content: string }>> {
  const channel = await connection.createChannel();
  try {
    return (await drainChannel(channel, queue)).map((message) => ({
      id: String(message.properties.messageId),
      routingKey: message.fields.routingKey,
      exchange: message.fields.exchange,
      headers: (message.properties.headers ?? {}) as Record<string, unknown>,
      content: message.content.toString(),
    }));
  } finally {
    await channel.close().catch(() => undefined);
  }
}

export async function depth(connection: ChannelModel, queue: string): Promise<number> {
  const channel = await connection.createChannel();
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await channel.close();
  }
}

/**
 * Ready messages once the queue holds none unacked: after a client is
 * SIGKILLed the broker requeues what it held only when it notices the closed
 * socket, so a bare `depth` right after the kill can miss those. rabbitmqctl
 * asks the queue process itself (the management API's counts lag by its stats
 * interval); the tests that use this run against the local shared node.
 */
export async function settledDepth(vhost: string, queue: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await new Promise<string>((resolve, reject) => {
      execFile('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', '-p', vhost, 'name', 'messages_ready', 'messages_unacknowledged'], (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      );
    });
    const row = listed.split('\n').map((line) => line.trim().split(/\s+/)).find(([name]) => name === queue);
    if (!row) throw new Error(`queue ${queue} not found in vhost ${vhost}`);
    const [, ready, unacked] = row.map(Number);
    if (unacked === 0 && ready !== undefined) return ready;
    if (Date.now() > deadline) throw new Error(`${queue} still has ${unacked} unacked messages`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'warren.js');

export function runWarren(args: string[], amqpUrl: string, options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: cliEnv(amqpUrl), timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? 2 : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export function spawnWarren(args: string[], amqpUrl: string): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: cliEnv(amqpUrl), stdio: ['ignore', 'pipe', 'pipe'] });
}

function cliEnv(amqpUrl: string): NodeJS.ProcessEnv {
  const { WARREN_TOPOLOGY: _ignored, ...env } = process.env;
  return { ...env, AMQP_URL: amqpUrl, LOG_LEVEL: 'silent' };
}
