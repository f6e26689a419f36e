import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { deadLetterHeaders, jobHeaders } from '../../src/message/headers.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

/**
 * Shared set-up of the DLQ integration tests: a vhost with a small shop
 * topology (consumer `billing` → work queue `billing`, DLQ `billing.dlq`),
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

export async function createScenario(prefix: string): Promise<DlqScenario> {
  const vhost = await createTestVhost(prefix);
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const topologyFile = join(dir, 'topology.yaml');
  await writeFile(topologyFile, TOPOLOGY);
  const parsed = parseTopology(TOPOLOGY, topologyFile);
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
  return ids;
}

/** Takes every message off a queue (destructive): ids and headers, in order. */
export async function drain(connection: ChannelModel, queue: string): Promise<Array<{ id: string; routingKey: string; exchange: string; headers: Record<string, unknown>; content: string }>> {
  const channel = await connection.createChannel();
  const out = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) break;
    out.push({
      id: String(message.properties.messageId),
      routingKey: message.fields.routingKey,
      exchange: message.fields.exchange,
      headers: (message.properties.headers ?? {}) as Record<string, unknown>,
      content: message.content.toString(),
    });
  }
  await channel.close();
  return out;
}

export async function depth(connection: ChannelModel, queue: string): Promise<number> {
  const channel = await connection.createChannel();
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await channel.close();
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
