import { gzipSync } from 'node:zlib';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { get, order, post, producerTestPlan } from './producer-fixtures.ts';

/**
 * The enqueue routes are served in front of express (src/producer/enqueue-fast-path.ts).
 * They must answer as express would, leave what they do not take to it, keep
 * every answer counted, and log successes only at debug level.
 */
const TOKEN = 'fast-path-enqueue-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
let vhost: TestVhost;
let producer: RunningProducer;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  vhost = await createTestVhost('warren-fast-path');
  const plan = await producerTestPlan();
  await declarePlanAt(vhost.url, plan);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: `${TOKEN}:enqueue`,
    logger: pino({ level: 'info' }, sink),
  });
  for (let i = 0; i < 100 && (await get(producer.url, '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await producer?.close();
  await vhost?.cleanup();
});

const completed = (status: number) => logLines.filter((l) => l.msg === 'request completed' && (l.res as { statusCode?: number } | undefined)?.statusCode === status);

describe('the enqueue fast path', () => {
  it('sends the same security headers as the express routes, and a request id', async () => {
    const fast = await post(producer.url, '/v1/jobs/order.created', order(1), AUTH);
    const viaExpress = await get(producer.url, '/healthz');
    expect(fast.status).toBe(202);
    const securityHeaders = (headers: Headers) =>
      [...headers.entries()].filter(([name]) => !['date', 'content-length', 'content-type', 'x-request-id', 'connection', 'keep-alive'].includes(name)).sort();
    expect(securityHeaders(fast.headers)).toEqual(securityHeaders(viaExpress.headers));
    expect(securityHeaders(fast.headers).map(([name]) => name)).toContain('content-security-policy');
    expect(fast.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(fast.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await post(producer.url, '/v1/jobs/order.created', order(2), { ...AUTH, 'x-request-id': 'trace-me.1' });
    expect(echoed.headers.get('x-request-id')).toBe('trace-me.1');
  });

  it('leaves a gzip-compressed body to express, which accepts it the same way', async () => {
    const compressed = await post(producer.url, '/v1/jobs/order.created', gzipSync(Buffer.from(JSON.stringify(order(3)))), { ...AUTH, 'content-encoding': 'gzip' });
    expect(compressed.status).toBe(202);
    expect(compressed.body).toMatchObject({ jobType: 'order.created' });
  });

  it('answers the content rule before auth, auth before the job type, the job type before the body — as express does', async () => {
    expect((await post(producer.url, '/v1/jobs/no.such.type', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    const anonymous = await post(producer.url, '/v1/jobs/no.such.type', '{');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(producer.url, '/v1/jobs/no.such.type', '{', AUTH)).status).toBe(404);
    expect((await post(producer.url, '/v1/jobs/order.created', '{', AUTH)).body).toMatchObject({ error: { code: 'BAD_JSON' } });
    expect((await post(producer.url, '/v1/jobs/order.created', 'x'.repeat(1024 * 1024 + 1), AUTH)).status).toBe(413);
    expect((await post(producer.url, '/v1/jobs/order.created/batch', [], AUTH)).body).toMatchObject({ error: { code: 'INVALID_BATCH' } });
  });

  it('counts every answer under the route pattern, and logs successes at debug only, refusals at warn', async () => {
    logLines.length = 0;
    const accepted = await post(producer.url, '/v1/jobs/order.created/batch', [order(4), order(5)], AUTH);
    expect(accepted.status).toBe(202);
    const refused = await post(producer.url, '/v1/jobs/order.created', { nope: true }, AUTH);
    expect(refused.status).toBe(400);
    expect(completed(202)).toEqual([]);
    expect(completed(400)).toHaveLength(1);
    expect(completed(400)[0]).toMatchObject({ level: 40, req: { method: 'POST', url: '/v1/jobs/order.created' } });
    const metrics = (await get(producer.url, '/metrics', AUTH)).text;
    expect(metrics).toMatch(/warren_http_requests_total\{route="\/v1\/jobs\/:jobType\/batch",method="POST",status="202"\} [1-9]/);
    expect(metrics).toMatch(/warren_http_requests_total\{route="\/v1\/jobs\/:jobType",method="POST",status="400"\} [1-9]/);
  });
});
