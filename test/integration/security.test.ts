import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterHeaders, jobHeaders } from '../../src/message/headers.ts';
import { MissingApiTokensError, startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { get, order, post, producerTestPlan, queueDepths } from './producer-fixtures.ts';

/**
 * The producer attacked as an outsider would, against a real server and
 * broker (issue 11): each test is one attack and asserts the safe outcome —
 * a refusal with the right status, and nothing published or replayed.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENQUEUE = { authorization: 'Bearer sec-enqueue-token' };
const ADMIN = { authorization: 'Bearer sec-admin-token' };
const DLQ = 'inventory.dlq';
/** Every job of every type reaches fraud-audit (a fanout): its depth counts what was published. */
const AUDIT = 'fraud-audit';

let vhost: TestVhost;
let plan: TopologyPlan;
let producer: RunningProducer;
let amqp: ChannelModel;

/** The reference plan, plus a job type whose ordering key has no length limit in its schema. */
async function securityPlan(): Promise<TopologyPlan> {
  const base = await producerTestPlan();
  return { ...base, jobs: [...base.jobs, { type: 'keyed.job', exchange: 'orders', routingKey: 'keyed.job', orderingKey: 'key', payloadSchema: { type: 'object' } }] };
}

beforeAll(async () => {
  vhost = await createTestVhost('warren-security');
  plan = await securityPlan();
  await declarePlanAt(vhost.url, plan);
  amqp = await connect(vhost.url);
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: 'sec-enqueue-token:enqueue,sec-admin-token:admin',
    bodyLimit: '16kb',
    logger: pino({ level: 'silent' }),
  });
  for (let i = 0; i < 100 && (await get(producer.url, '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await producer?.close();
  await amqp?.close().catch(() => undefined);
  await vhost?.cleanup();
});

const depthOf = async (queue: string) => (await queueDepths(vhost.url, [queue]))[queue] ?? 0;

/** Runs `attack`, then checks nothing reached the queues (a short wait lets a stray publish land). */
async function publishesNothing(attack: () => Promise<void>): Promise<void> {
  const before = await depthOf(AUDIT);
  await attack();
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await depthOf(AUDIT)).toBe(before);
}

describe('closed by default', () => {
  it('startProducer without tokens throws MissingApiTokensError (library users get the same refusal)', async () => {
    await expect(startProducer({ plan, amqpUrls: [vhost.url], port: 0, apiTokens: undefined, logger: pino({ level: 'silent' }) })).rejects.toBeInstanceOf(MissingApiTokensError);
    await expect(startProducer({ plan, amqpUrls: [vhost.url], port: 0, apiTokens: ' , ', logger: pino({ level: 'silent' }) })).rejects.toThrow();
  });

  it('listens on 127.0.0.1 by default', () => {
    expect(new URL(producer.url).hostname).toBe('127.0.0.1');
  });

  it.each([
    ['no token', {}],
    ['an unknown token', { authorization: 'Bearer sec-enqueue-tokeN' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['basic auth', { authorization: `Basic ${Buffer.from('sec-admin-token:').toString('base64')}` }],
    ['a token with a suffix', { authorization: 'Bearer sec-admin-token2' }],
  ])('%s → 401 on every route with data, admin ones included', async (_name, headers) => {
    await publishesNothing(async () => {
      expect((await post(producer.url, '/v1/jobs/order.created', order(1), headers)).status).toBe(401);
      expect((await get(producer.url, '/v1/jobs', headers)).status).toBe(401);
      expect((await get(producer.url, '/v1/queues', headers)).status).toBe(401);
      expect((await get(producer.url, `/v1/dlq/${DLQ}`, headers)).status).toBe(401);
      expect((await post(producer.url, `/v1/dlq/${DLQ}/replay`, {}, headers)).status).toBe(401);
    });
  });

  it('an enqueue token on the admin routes → 403 (list, replay, purge)', async () => {
    await putDeadLetters(2);
    expect((await get(producer.url, '/v1/queues', ENQUEUE)).status).toBe(403);
    expect((await get(producer.url, `/v1/dlq/${DLQ}`, ENQUEUE)).status).toBe(403);
    expect((await post(producer.url, `/v1/dlq/${DLQ}/replay`, {}, ENQUEUE)).status).toBe(403);
    expect((await post(producer.url, `/v1/dlq/${DLQ}/purge`, { confirm: true }, ENQUEUE)).status).toBe(403);
    expect(await depthOf(DLQ)).toBe(2);
    await emptyQueue(DLQ);
  });
});

describe('one content rule', () => {
  it('a replay posted as a form (a cross-site POST) → 415, and nothing is replayed', async () => {
    await putDeadLetters(2);
    const body = JSON.stringify({ dryRun: true, filter: 'id=nothing' });
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16']) {
      const response = await post(producer.url, `/v1/dlq/${DLQ}/replay`, body, { ...ADMIN, 'content-type': type });
      expect(response.status, type).toBe(415);
      expect((response.body as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    // No content type at all, and no body: still refused (a no-cors fetch sends neither).
    const bare = await fetch(`${producer.url}/v1/dlq/${DLQ}/replay`, { method: 'POST', headers: ADMIN });
    expect(bare.status).toBe(415);
    expect(await depthOf(DLQ)).toBe(2);
    expect(await depthOf('inventory')).toBe(0);
    await emptyQueue(DLQ);
  });

  it('the same rule holds for the job routes', async () => {
    await publishesNothing(async () => {
      const response = await post(producer.url, '/v1/jobs/order.created', `orderId=1`, { ...ENQUEUE, 'content-type': 'application/x-www-form-urlencoded' });
      expect(response.status).toBe(415);
    });
  });
});

describe('bounded input', () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('a body over the limit → 413 (job routes 16 kb here, DLQ routes 64 kb)', async () => {
    await publishesNothing(async () => {
      const big = await post(producer.url, '/v1/jobs/orphan.job', { pad: 'x'.repeat(17_000) }, ENQUEUE);
      expect(big.status).toBe(413);
    });
    const replay = await post(producer.url, `/v1/dlq/${DLQ}/replay`, { filter: 'x'.repeat(70_000) }, ADMIN);
    expect(replay.status).toBe(413);
  });

  it('JSON nested 5,000 deep → 400 JSON_TOO_DEEP, never 500 (job, batch and DLQ routes)', async () => {
    await publishesNothing(async () => {
      for (const [path, body] of [
        ['/v1/jobs/orphan.job', `{"a":${deep(5_000)}}`],
        ['/v1/jobs/orphan.job', `{"a":${deep(65)}}`],
        ['/v1/jobs/orphan.job/batch', `[{"a":${deep(5_000)}}]`],
      ] as const) {
        const response = await post(producer.url, path, body, ENQUEUE);
        expect(response.status, path).toBe(400);
        expect((response.body as { error: { code: string } }).error.code).toBe('JSON_TOO_DEEP');
      }
    });
    const replay = await post(producer.url, `/v1/dlq/${DLQ}/replay`, `{"filter":${deep(5_000)}}`, ADMIN);
    expect(replay.status).toBe(400);
    expect((replay.body as { error: { code: string } }).error.code).toBe('JSON_TOO_DEEP');
  });

  it('JSON within the depth limit still goes through', async () => {
    const response = await post(producer.url, '/v1/jobs/keyed.job', `{"key":"k","a":${deep(60)}}`, ENQUEUE);
    expect(response.status).toBe(202);
  });

  it('invalid UTF-8 in a body → 400 INVALID_UTF8 (not silently replaced), on job and DLQ routes', async () => {
    const bad = Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    await publishesNothing(async () => {
      const response = await post(producer.url, '/v1/jobs/keyed.job', bad, ENQUEUE);
      expect(response.status).toBe(400);
      expect((response.body as { error: { code: string } }).error.code).toBe('INVALID_UTF8');
    });
    const replay = await post(producer.url, `/v1/dlq/${DLQ}/replay`, Buffer.concat([Buffer.from('{"filter":"id='), Buffer.from([0xfe]), Buffer.from('"}')]), ADMIN);
    expect(replay.status).toBe(400);
  });

  it('an ordering key over 255 bytes → 400 naming the field, never 500', async () => {
    await publishesNothing(async () => {
      for (const key of ['k'.repeat(256), 'é'.repeat(128), 'k'.repeat(70_000)]) {
        const response = await fetch(`${producer.url}/v1/jobs/keyed.job`, {
          method: 'POST',
          headers: { ...ENQUEUE, 'content-type': 'application/json' },
          body: JSON.stringify({ key }),
        });
        // 70 KB is over this server's 16 kb body limit: 413 is the bound that applies first.
        expect([400, 413], `${key.length} chars`).toContain(response.status);
        if (response.status === 400) expect(await response.text()).toMatch(/ordering key \\"key\\".*255 bytes/);
      }
    });
    expect((await post(producer.url, '/v1/jobs/keyed.job', { key: 'k'.repeat(255) }, ENQUEUE)).status).toBe(202);
  });

  it('an Idempotency-Key or X-Correlation-Id over 200 characters, or not visible ASCII → 400 naming the header', async () => {
    await publishesNothing(async () => {
      for (const [header, value] of [
        ['idempotency-key', 'k'.repeat(201)],
        ['x-correlation-id', 'c'.repeat(201)],
        ['idempotency-key', 'has space'],
        ['x-correlation-id', 'tab\there'],
      ] as const) {
        const response = await post(producer.url, '/v1/jobs/order.created', order(1), { ...ENQUEUE, [header]: value });
        expect(response.status, header).toBe(400);
        const error = (response.body as { error: { code: string; message: string } }).error;
        expect(error.code).toBe('INVALID_HEADER');
        expect(error.message.toLowerCase()).toContain(header);
      }
    });
  });

  it('header injection: CR, LF or NUL inside a header value is refused before any route runs; bytes ≥ 0x80 get 400', async () => {
    await publishesNothing(async () => {
      const body = JSON.stringify(order(1));
      for (const value of ['abc\rX-Injected: 1', 'abc\nX-Injected: 1', 'abc\0def']) {
        const answer = await rawHttp(producer.url, `POST /v1/jobs/order.created HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sec-enqueue-token\r\nContent-Type: application/json\r\nX-Correlation-Id: ${value}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        expect(answer.split('\r\n')[0], JSON.stringify(value)).toMatch(/^HTTP\/1\.1 400/);
      }
      const latin1 = await rawHttp(
        producer.url,
        Buffer.concat([
          Buffer.from(`POST /v1/jobs/order.created HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sec-enqueue-token\r\nContent-Type: application/json\r\nIdempotency-Key: caf`),
          Buffer.from([0xe9]),
          Buffer.from(`\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`),
        ]),
      );
      expect(latin1.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 400/);
      expect(latin1).toContain('INVALID_HEADER');
    });
    // A request id that could smuggle text into a response header is replaced, not echoed.
    const echoed = await get(producer.url, '/healthz', { 'x-request-id': 'a b<script>' });
    expect(echoed.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a billion-laughs YAML topology is refused at once, by validate and by serve', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-bomb-'));
    try {
      const levels = 'abcdefghij'.split('');
      const lines = levels.map((name, i) => (i === 0 ? `${name}: &${name} ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]` : `${name}: &${name} [${Array(10).fill(`*${levels[i - 1]}`).join(',')}]`));
      const file = join(dir, 'bomb.yaml');
      await writeFile(file, `version: 1\n${lines.join('\n')}\n`);
      const validate = await runWarren(['topology', 'validate', file], {});
      expect(validate.code).toBe(1);
      expect(validate.stderr).toMatch(/bomb\.yaml:\d+:\d+: .*alias/i);
      const serve = await runWarren(['serve', '--topology', file, '--insecure', '--port', '0'], {});
      expect(serve.code).toBe(1);
      expect(serve.stderr).toMatch(/bomb\.yaml:\d+:\d+: .*alias/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('no addresses in responses', () => {
  it('503 bodies name the failure (broker, management API), never a host, port or URL', async () => {
    const [amqpPort, managementPort] = await Promise.all([closedPort(), closedPort()]);
    const down = await startProducer({
      plan,
      amqpUrls: [`amqp://guest:guest@localhost:${amqpPort}/`],
      managementUrl: `http://guest:guest@localhost:${managementPort}`,
      port: 0,
      apiTokens: 'sec-admin-token:admin',
      logger: pino({ level: 'silent' }),
    });
    try {
      const answers = [
        await post(down.url, '/v1/jobs/order.created', order(1), ADMIN),
        await post(down.url, '/v1/jobs/order.created/batch', [order(1)], ADMIN),
        await get(down.url, '/v1/queues', ADMIN),
        await get(down.url, `/v1/dlq/${DLQ}`, ADMIN),
        await post(down.url, `/v1/dlq/${DLQ}/replay`, { dryRun: true }, ADMIN),
        await get(down.url, '/readyz'),
      ];
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(503);
        expect(answer.text).not.toMatch(new RegExp(`localhost|127\\.0\\.0\\.1|::1|amqp:|https?:|guest|${amqpPort}|${managementPort}`));
      }
      expect((answers[2]?.body as { error: { message: string } }).error.message).toBe('management API unreachable');
      expect((answers[0]?.body as { error: { code: string } }).error.code).toBe('BROKER_UNAVAILABLE');
    } finally {
      await down.close();
    }
  });
});

describe('warren serve, as a user runs it', () => {
  it.each([
    ['unset', undefined],
    ['blank', '  '],
  ])('without tokens (%s) exits non-zero with one line saying how to set them', async (_name, tokens) => {
    const run = await runWarren(['serve', '--topology', 'topology/orders.yaml', '--port', '0'], tokens === undefined ? {} : { WARREN_API_TOKENS: tokens });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/WARREN_API_TOKENS=.*--insecure/);
    expect(run.stdout).toBe('');
  }, 60_000);

  it('with --insecure starts, says so on stderr and in /readyz, listens on 127.0.0.1 only, and serves loopback Host names only', async () => {
    const child = spawn(process.execPath, ['bin/warren.js', 'serve', '--topology', 'topology/orders.yaml', '--port', '0', '--insecure'], {
      cwd: ROOT,
      env: cliEnv({ AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl }),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    try {
      const url = await waitFor(() => /listening on (http:\S+)/.exec(stderr)?.[1], () => stderr);
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expect(stderr).toMatch(/!! INSECURE: no API tokens/);
      const readiness = await waitFor(async () => {
        const answer = await get(url, '/readyz');
        return answer.status === 200 ? answer.body : undefined;
      }, () => stderr);
      expect(readiness).toMatchObject({ ready: true, insecure: true });
      // Not on any other interface of this machine.
      const port = Number(new URL(url).port);
      for (const address of externalAddresses()) expect(await canConnect(address, port), address).toBe(false);
      // A page that rebinds its own domain to 127.0.0.1 gets nothing from an open server.
      expect(await statusWithHost(url, '/v1/queues', 'evil.example')).toBe(403);
      expect(await statusWithHost(url, '/v1/queues', `localhost:${port}`)).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    expect(child.exitCode).toBe(0);
  }, 60_000);

  it('on a port in use exits non-zero with one clear line', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as AddressInfo;
    try {
      const run = await runWarren(['serve', '--topology', 'topology/orders.yaml', '--port', String(port)], { WARREN_API_TOKENS: 'busy-port-token:admin', AMQP_URL: vhost.url });
      expect(run.code).not.toBe(0);
      expect(run.code).not.toBeNull();
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(`warren serve: cannot listen on 127.0.0.1:${port}: the port is already in use (choose another with --port or PORT)`);
    } finally {
      busy.close();
    }
  }, 60_000);
});

// ---- helpers ----

/** Dead letters of the inventory consumer, as its worker writes them. */
async function putDeadLetters(count: number): Promise<void> {
  const channel = await amqp.createConfirmChannel();
  for (let i = 0; i < count; i++) {
    const now = new Date();
    const headers = deadLetterHeaders(jobHeaders({ exchange: 'orders', routingKey: 'order.created', now }), {
      reason: 'non-retryable',
      error: { class: 'Boom', message: 'out of stock' },
      attempts: 1,
      worker: 'security-test',
      consumer: 'inventory',
      deliveredFrom: { exchange: 'orders', routingKey: 'order.created' },
      now,
    });
    channel.sendToQueue(DLQ, Buffer.from(JSON.stringify(order(i))), { persistent: true, contentType: 'application/json', messageId: `sec-${i}`, type: 'order.created', headers });
  }
  await channel.waitForConfirms();
  await channel.close();
}

async function emptyQueue(queue: string): Promise<void> {
  const channel = await amqp.createChannel();
  await channel.purgeQueue(queue);
  await channel.close();
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI's environment without any token or opt-out of the test runner's own. */
function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', WARREN_LOG_PRETTY: '0', ...extra };
  if (!('WARREN_API_TOKENS' in extra)) delete env.WARREN_API_TOKENS;
  delete env.WARREN_INSECURE;
  delete env.HOST;
  return env;
}

function runWarren(args: string[], extra: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/warren.js', ...args], { cwd: ROOT, env: cliEnv(extra) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A refusal must end the process by itself; this only keeps a regression from hanging the suite.
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`warren ${args.join(' ')} did not exit by itself\n${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

async function waitFor<T>(find: () => T | undefined | Promise<T | undefined>, context: () => string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out\n${context()}`);
}

/** Sends bytes as they are (fetch would refuse or fix them) and returns the raw answer. */
function rawHttp(url: string, text: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', (error) => (answer ? resolve(answer) : reject(error)));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve(answer);
    });
    socket.write(text);
  });
}

function statusWithHost(url: string, path: string, host: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port: Number(port), path, headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')
    .map((entry) => entry?.address ?? '');
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(3_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
