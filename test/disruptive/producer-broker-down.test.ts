import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { drain, get, order, post, producerTestPlan } from '../integration/producer-fixtures.ts';

const CONFIRM_TIMEOUT_MS = 2_000;
/** What a client would wait at most; a 503 must come well before. */
const CLIENT_TIMEOUT_MS = 10_000;

let node: PrivateNode;
let producer: RunningProducer;

beforeAll(async () => {
  node = await startPrivateNode();
  await declarePlanAt(node.amqpUrl, await producerTestPlan());
  producer = await startProducer({
    plan: await producerTestPlan(),
    amqpUrls: [node.amqpUrl],
    managementUrl: node.managementUrl,
    port: 0,
    apiTokens: undefined,
    insecure: true,
    publisher: { confirmTimeoutMs: CONFIRM_TIMEOUT_MS },
    logger: pino({ level: 'silent' }),
  });
  await waitFor(async () => (await get(producer.url, '/readyz')).status === 200, 20_000);
});

afterAll(async () => {
  await producer?.close();
  await node?.stop();
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('broker restart', () => {
  it('answers 503 + Retry-After fast while the broker is down, recovers after, and loses no confirmed job', async () => {
    const accepted: string[] = [];
    const statuses = new Map<number, number>();
    let running = true;
    let sent = 0;
    const loop = async () => {
      while (running) {
        const i = sent++;
        const response = await post(producer.url, '/v1/jobs/order.created', order(i), { 'idempotency-key': `restart-${i}` }).catch(() => undefined);
        if (response === undefined) continue;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 202) accepted.push((response.body as { id: string }).id);
        if (response.status === 503) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    // A failed expectation must not leave the loops running (they would hold the server open).
    const stopLoops = async () => {
      running = false;
      await Promise.all(loops);
    };
    try {
      await survivesRestart();
    } finally {
      await stopLoops();
    }
    await checkNothingLost();

    async function survivesRestart(): Promise<void> {
    try {
      await waitFor(async () => accepted.length >= 50, 20_000);
      await node.ctl('stop_app');
      await waitFor(async () => (await get(producer.url, '/readyz')).status === 503, 15_000);

      const started = Date.now();
      const during = await post(producer.url, '/v1/jobs/order.created', order(1_000_001));
      expect(during.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(CLIENT_TIMEOUT_MS);
      expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(during.body).toMatchObject({ error: { code: 'BROKER_UNAVAILABLE' } });
      expect(during.text).not.toContain('guest');
      expect((await get(producer.url, '/readyz')).body).toMatchObject({ ready: false, connected: false });
    } finally {
      await node.ctl('start_app');
    }
    await waitFor(async () => (await get(producer.url, '/readyz')).status === 200, 30_000);
    const acceptedBefore = accepted.length;
    await waitFor(async () => accepted.length >= acceptedBefore + 50, 20_000);
    }

    async function checkNothingLost(): Promise<void> {
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([202, 503]));
    expect([...statuses.keys()].every((status) => status === 202 || status === 503)).toBe(true);
    // Every 202 is in the queue. Jobs answered 503 may be there too (published, confirm lost): the client retries them with the same id.
    const inQueue = new Set((await drain(node.amqpUrl, 'inventory')).map((m) => m.properties.messageId as string));
    const lost = accepted.filter((id) => !inQueue.has(id));
    expect(lost).toEqual([]);
    expect(accepted.length).toBeGreaterThan(100);
    }
  });
});

describe('memory alarm', () => {
  it('answers 503 instead of hanging while publishing is blocked, and 202 once the alarm clears', async () => {
    try {
      await node.ctl('set_vm_memory_high_watermark', '0.0000001');
      // The first publish after the alarm may wait for its confirm timeout; none may hang or get 202.
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const response = await post(producer.url, '/v1/jobs/order.created', order(i));
        expect(response.status).toBe(503);
        expect(Date.now() - started).toBeLessThan(CLIENT_TIMEOUT_MS);
        expect(response.headers.get('retry-after')).not.toBeNull();
      }
      expect((await get(producer.url, '/readyz')).body).toMatchObject({ ready: false });
    } finally {
      await node.ctl('set_vm_memory_high_watermark', '0.4');
    }
    await waitFor(async () => (await post(producer.url, '/v1/jobs/order.created', order(9))).status === 202, 30_000);
    expect((await get(producer.url, '/readyz')).status).toBe(200);
  });
});
