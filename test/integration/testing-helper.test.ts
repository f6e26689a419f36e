import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { defineWorker } from '../../src/worker/define.ts';
import { createTestVhost, startTestWorker, type TestVhost, type TestWorker } from '../../src/testing/index.ts';
import { planOf } from '../fixtures/workers/_support.ts';
import { managementUrl } from '../support/broker.ts';

// The topology names a vhost of its own: the test vhost must win, or this
// test would publish into (and leave things in) a shared one.
const topology = planOf(`
version: 1
vhost: somewhere-else
exchanges:
  app: { type: topic }
jobs:
  user.signed-up:
    exchange: app
    routingKey: user.signed-up
    schema:
      type: object
      additionalProperties: false
      required: [userId]
      properties: { userId: { type: string, minLength: 1 }, flaky: { type: boolean } }
consumers:
  welcome:
    source: { exchange: app, pattern: user.signed-up }
    retry: { delays: [100ms] }
`);

type Jobs = { 'user.signed-up': { userId: string; flaky?: boolean } };
const handled: string[] = [];
const welcome = defineWorker<Jobs['user.signed-up']>({
  consumer: 'welcome',
  handle: (user, ctx) => {
    if (user.flaky && ctx.attempt === 1) throw new Error('mail server busy');
    handled.push(user.userId);
  },
});

let vhost: TestVhost;
let worker: TestWorker;
let jobs: JobClient<Jobs>;

beforeAll(async () => {
  vhost = await createTestVhost({ prefix: 'testing-helper' });
  const plan = await vhost.apply(topology);
  worker = await startTestWorker({ vhost, topology: plan, workers: [welcome] });
  jobs = await createJobClient<Jobs>({ topology: plan, amqpUrls: [vhost.amqpUrl] });
});

afterAll(async () => {
  await jobs?.close();
  await worker?.stop();
  await vhost?.cleanup();
});

describe('warren/testing', () => {
  it('runs a worker in-process and waits for the outcome of an enqueued job', async () => {
    const { id } = await jobs.enqueue('user.signed-up', { userId: 'u-1' });
    const outcome = await worker.waitForJob(id);
    expect(outcome).toMatchObject({ jobId: id, consumer: 'welcome', jobType: 'user.signed-up', outcome: 'succeeded', attempt: 1 });
    expect(handled).toContain('u-1');
  });

  it('passes over retries to the final outcome', async () => {
    const { id } = await jobs.enqueue('user.signed-up', { userId: 'u-2', flaky: true });
    expect(await worker.waitForJob(id)).toMatchObject({ outcome: 'succeeded', attempt: 2 });
    expect(worker.settled.filter((event) => event.jobId === id).map((event) => event.outcome)).toEqual(['retried', 'succeeded']);
  });

  it("dead-letters a payload that fails the topology's JSON Schema, with no schema in the worker", async () => {
    const connection = await connect(vhost.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish('app', 'user.signed-up', Buffer.from('{"userId":""}'), { messageId: 'bad-1', type: 'user.signed-up', persistent: true });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    const outcome = await worker.waitForJob('bad-1');
    expect(outcome).toMatchObject({ outcome: 'dead-lettered', deadLetterReason: 'invalid-payload', error: { class: 'InvalidPayloadError' } });
    expect(outcome.error?.message).toContain('job type "user.signed-up"');
  });

  it('says what it saw when a job has no final outcome in time', async () => {
    await expect(worker.waitForJob('never-sent', { timeoutMs: 200 })).rejects.toThrow(/never-sent in welcome: no final outcome within 200 ms \(seen: nothing\)/);
  });

  it('cleanup deletes the vhost', async () => {
    const scratch = await createTestVhost({ prefix: 'testing-helper-scratch' });
    const management = new ManagementClient(managementUrl());
    expect(await management.get(`/vhosts/${encodeVhost(scratch.name)}`)).toBeDefined();
    await scratch.cleanup();
    expect(await management.get(`/vhosts/${encodeVhost(scratch.name)}`)).toBeUndefined();
  });
});
