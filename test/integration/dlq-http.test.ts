import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { createScenario, depth, DLQ, publishDeadLetters, runWarren, WORK_QUEUE, type DlqScenario } from './dlq-fixtures.ts';

// The DLQ routes as the producer serves them: behind an admin token, same data as the CLI.
describe('HTTP /v1/dlq', () => {
  let s: DlqScenario;
  let producer: RunningProducer;
  const admin = { authorization: 'Bearer admin-secret' };
  const jobs = Array.from({ length: 12 }, (_, i) => ({
    id: `h-${String(i).padStart(2, '0')}`,
    type: i % 2 === 0 ? 'created' : 'paid',
    errorClass: 'Boom',
    errorMessage: i % 2 === 0 ? 'no stock' : 'card expired',
  }));

  beforeAll(async () => {
    s = await createScenario('dlq-http');
    await publishDeadLetters(s.channel, jobs);
    producer = await startProducer({
      plan: s.plan,
      amqpUrls: [s.vhost.url],
      managementUrl: s.vhost.managementUrl,
      apiTokens: 'admin-secret:admin,enqueue-secret:enqueue',
      port: 0,
      logger: createLogger('test', { level: 'silent', pretty: false }),
    });
  });
  afterAll(async () => {
    await producer?.close();
    await s?.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = admin) => fetch(`${producer.url}${path}`, { headers });
  const post = (path: string, body: unknown, headers: Record<string, string> = admin) =>
    fetch(`${producer.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('refuses without a token and with an enqueue-only token', async () => {
    expect((await get(`/v1/dlq/${DLQ}`, {})).status).toBe(401);
    expect((await get(`/v1/dlq/${DLQ}`, { authorization: 'Bearer enqueue-secret' })).status).toBe(403);
    expect((await post(`/v1/dlq/${DLQ}/replay`, {}, { authorization: 'Bearer enqueue-secret' })).status).toBe(403);
    expect(await depth(s.connection, DLQ)).toBe(12);
  });

  it('GET returns what `dlq list --json` prints, paginated', async () => {
    const cli = await runWarren(['dlq', 'list', DLQ, '--limit', '5', '--json'], s.vhost.url);
    expect(cli.code, cli.stderr).toBe(0);
    const response = await get(`/v1/dlq/${DLQ}?limit=5`);
    expect(response.status).toBe(200);
    const page = await response.json();
    expect(page).toEqual(JSON.parse(cli.stdout));
    expect(page).toMatchObject({ count: 12, offset: 0, limit: 5, nextOffset: 5, groupCount: 2, groupOffset: 0, groupLimit: 20 });
    const last = (await (await get(`/v1/dlq/${DLQ}?limit=5&offset=10`)).json()) as { messages: Array<{ id: string }>; nextOffset?: number };
    expect(last.messages.map((m) => m.id)).toEqual(['h-10', 'h-11']);
    expect(last.nextOffset).toBeUndefined();
    expect(await depth(s.connection, DLQ)).toBe(12);
  });

  it('POST replay takes the CLI options, validates them, and returns the summary', async () => {
    expect((await post(`/v1/dlq/${DLQ}/replay`, { dryRun: 'yes' })).status).toBe(400);
    expect((await post(`/v1/dlq/${DLQ}/replay`, { colour: 'red' })).status).toBe(400);
    const badFilter = await post(`/v1/dlq/${DLQ}/replay`, { filter: 'nonsense' });
    expect(badFilter.status).toBe(400);
    expect(((await badFilter.json()) as { error: { message: string } }).error.message).toMatch(/bad filter/);
    expect((await post(`/v1/dlq/ghost.dlq/replay`, {})).status).toBe(404);
    expect((await post(`/v1/dlq/${WORK_QUEUE}/replay`, {})).status).toBe(404);
    expect(await depth(s.connection, DLQ)).toBe(12);

    const dry = await (await post(`/v1/dlq/${DLQ}/replay`, { filter: ['error=expired'], dryRun: true })).json();
    expect(dry).toMatchObject({ dryRun: true, replayed: 6, skipped: 6, failed: 0 });
    const response = await post(`/v1/dlq/${DLQ}/replay`, { filter: ['jobType=paid'], limit: 4 });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ replayed: 4, failed: 0, dryRun: false });
    expect(await depth(s.connection, WORK_QUEUE)).toBe(4);
    expect(await depth(s.connection, DLQ)).toBe(8);
  });
});
