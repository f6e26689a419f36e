import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/message/headers.ts';
import { createScenario, depth, DLQ, drain, publishDeadLetters, runWarren, WORK_QUEUE, type DlqScenario } from './dlq-fixtures.ts';

describe('dlq replay', () => {
  let s: DlqScenario;
  beforeAll(async () => {
    s = await createScenario('dlq-replay');
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it("replays exactly the filtered jobs to the consumer's work queue with fresh attempt and replay count; the rest stay in order", async () => {
    const jobs = Array.from({ length: 30 }, (_, i) => ({
      id: `f-${String(i).padStart(2, '0')}`,
      type: i % 3 === 1 ? 'refunded' : 'shipped',
      errorClass: 'Boom',
      errorMessage: `failure ${i}`,
    }));
    await publishDeadLetters(s.channel, jobs);
    const result = await runWarren(['dlq', 'replay', DLQ, '--filter', 'jobType=refunded', '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ replayed: 10, skipped: 20, failed: 0, dryRun: false, target: { kind: 'consumer', exchange: '', routingKey: WORK_QUEUE } });

    const replayed = await drain(s.connection, WORK_QUEUE);
    expect(replayed.map((m) => m.id)).toEqual(jobs.filter((j) => j.type === 'refunded').map((j) => j.id));
    for (const message of replayed) {
      // Straight into the work queue; the origin stays on the message as information.
      expect(message).toMatchObject({ exchange: '', routingKey: WORK_QUEUE, content: JSON.stringify({ id: message.id, n: message.id }) });
      expect(message.headers).toMatchObject({ [HEADERS.attempt]: 1, [HEADERS.replays]: 1, [HEADERS.originExchange]: 'shop', [HEADERS.originRoutingKey]: 'order.refunded' });
      expect(message.headers[HEADERS.errorClass]).toBeUndefined();
      expect(message.headers[HEADERS.firstFailedAt]).toBeDefined();
    }
    const left = await drain(s.connection, DLQ);
    expect(left.map((m) => m.id)).toEqual(jobs.filter((j) => j.type !== 'refunded').map((j) => j.id));
  });

  it("messages the broker dead-lettered itself (rejected, expired, max-length) go back to the consumer's work queue, not to their x-death origin", async () => {
    await s.channel.assertQueue('audit', { durable: false });
    await s.channel.bindQueue('audit', 'shop', '#');
    await s.channel.assertQueue('ttl-src', { arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'billing.dlx' } });
    await s.channel.bindQueue('ttl-src', 'shop', 'ttl.#');
    await s.channel.assertQueue('short', { arguments: { 'x-max-length': 1, 'x-dead-letter-exchange': 'billing.dlx' } });
    await s.channel.bindQueue('short', 'shop', 'short.#');

    const publish = (routingKey: string, id: string) =>
      s.channel.publish('shop', routingKey, Buffer.from(`{"id":"${id}"}`), { messageId: id, type: 'raw', contentType: 'application/json', persistent: true });
    publish('order.rejected', 'rejected-1');
    await s.channel.waitForConfirms();
    const rejecter = await s.connection.createChannel();
    const delivery = await rejecter.get(WORK_QUEUE, { noAck: false });
    expect(delivery).not.toBe(false);
    if (delivery !== false) rejecter.nack(delivery, false, false);
    await rejecter.close();
    publish('ttl.later', 'expired-1');
    publish('short.a', 'dropped-1');
    publish('short.b', 'kept-1');
    await s.channel.waitForConfirms();
    await waitFor(async () => (await depth(s.connection, DLQ)) === 3);
    await drain(s.connection, 'short');
    await drain(s.connection, 'audit');

    const list = JSON.parse((await runWarren(['dlq', 'list', DLQ, '--json'], s.vhost.url)).stdout);
    // Expiry and max-length drops race each other, so compare by id.
    const described = list.messages.map((m: { id: string; error: { class: string }; origin: unknown }) => [m.id, m.error.class, m.origin]);
    expect(described.sort(byFirst)).toEqual([
      ['dropped-1', 'maxlen', { exchange: 'shop', routingKey: 'short.a' }],
      ['expired-1', 'expired', { exchange: 'shop', routingKey: 'ttl.later' }],
      ['rejected-1', 'rejected', { exchange: 'shop', routingKey: 'order.rejected' }],
    ]);

    const result = await runWarren(['dlq', 'replay', DLQ, '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ replayed: 3, failed: 0 });
    // Nothing went back through `shop`: the audit queue bound to everything there got no copy.
    expect(await drain(s.connection, 'audit')).toEqual([]);
    const back = await drain(s.connection, WORK_QUEUE);
    expect(back.map((m) => m.id).sort()).toEqual(['dropped-1', 'expired-1', 'rejected-1']);
    for (const message of back) {
      expect(message.headers['x-death']).toBeUndefined();
      expect(message.headers[HEADERS.replays]).toBe(1);
    }
    await s.channel.deleteQueue('ttl-src');
    await s.channel.deleteQueue('short');
    await s.channel.deleteQueue('audit');
    await drain(s.connection, DLQ);
  });

  it('without a topology, replay needs --to QUEUE --force; --to is checked against the topology', async () => {
    await s.channel.assertQueue('inspect-here', { durable: false });
    await publishDeadLetters(s.channel, [{ id: 'to-1', type: 'paid', errorClass: 'E', errorMessage: 'm' }]);
    const noTopology = await runWarren(['dlq', 'replay', DLQ, '--json'], s.vhost.url);
    expect(noTopology.code).toBe(1);
    expect(noTopology.stderr).toMatch(/replay needs the topology/);
    const unchecked = await runWarren(['dlq', 'replay', DLQ, '--to', 'inspect-here', '--json'], s.vhost.url);
    expect(unchecked.code).toBe(1);
    expect(unchecked.stderr).toMatch(/cannot be checked/);
    const outside = await runWarren(['dlq', 'replay', DLQ, '--to', 'inspect-here', '--topology', s.topologyFile], s.vhost.url);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/"inspect-here" is not a queue of the topology/);
    expect(await depth(s.connection, DLQ)).toBe(1);

    const forced = await runWarren(['dlq', 'replay', DLQ, '--to', 'inspect-here', '--force', '--json'], s.vhost.url);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ replayed: 1, target: { kind: 'to', exchange: '', routingKey: 'inspect-here' } });
    expect((await drain(s.connection, 'inspect-here')).map((m) => [m.id, m.exchange, m.routingKey])).toEqual([['to-1', '', 'inspect-here']]);
    expect(await depth(s.connection, WORK_QUEUE)).toBe(0);

    await publishDeadLetters(s.channel, [{ id: 'to-2', type: 'paid', errorClass: 'E', errorMessage: 'm' }]);
    const toRetryTier = await runWarren(['dlq', 'replay', DLQ, '--to', 'billing.retry.1s', '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(toRetryTier.code, toRetryTier.stderr).toBe(0);
    expect(JSON.parse(toRetryTier.stdout)).toMatchObject({ replayed: 1 });
    await waitFor(async () => (await depth(s.connection, WORK_QUEUE)) === 1, 10_000);
    await drain(s.connection, WORK_QUEUE);
    await s.channel.deleteQueue('inspect-here');
  });

  it('--rate 200 replays 1,000 messages in about 5 s', async () => {
    const jobs = Array.from({ length: 1_000 }, (_, i) => ({ id: `r-${i}`, type: 'paid', errorClass: 'E', errorMessage: 'm' }));
    await publishDeadLetters(s.channel, jobs);
    const started = Date.now();
    const result = await runWarren(['dlq', 'replay', DLQ, '--rate', '200/s', '--json', '--topology', s.topologyFile], s.vhost.url);
    const wallMs = Date.now() - started;
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ replayed: 1_000, failed: 0 });
    // 1,000 at 200/s: the last one no earlier than 999/200 s after the first.
    expect(summary.elapsedMs).toBeGreaterThanOrEqual(4_900);
    expect(wallMs).toBeLessThan(30_000);
    expect(await depth(s.connection, WORK_QUEUE)).toBe(1_000);
    expect(await depth(s.connection, DLQ)).toBe(0);
  });
});

function byFirst(a: unknown[], b: unknown[]): number {
  return String(a[0]).localeCompare(String(b[0]));
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
