import { connect, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import { createJobClient } from '../../src/client/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { planOf, waitFor } from '../fixtures/workers/_support.ts';

/**
 * A broker restart (stop_app / start_app on a private node) with delayed
 * jobs in flight in every level a 1–20 s delay uses: none is lost, none
 * arrives before it is due. Quorum delay queues with at-least-once
 * dead-lettering keep a job through the restart whichever level holds it.
 */
const JOBS = 200;
const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
jobs:
  reminder.send: { exchange: shop, delays: true }
consumers:
  reminders:
    source: { exchange: shop, pattern: "reminder.*" }
`);

let node: PrivateNode;
let inspector: ChannelModel | undefined;

beforeAll(async () => {
  node = await startPrivateNode();
  await declarePlanAt(node.amqpUrl, plan);
});

afterAll(async () => {
  await inspector?.close().catch(() => undefined);
  await node?.stop();
});

describe('broker restart with delayed jobs in flight', () => {
  it(`loses none of ${JOBS} delayed jobs, and none arrives early`, async () => {
    const client = await createJobClient({ topology: plan, amqpUrls: [node.amqpUrl] });
    const due = new Map<string, number>();
    try {
      for (let n = 0; n < JOBS; n++) {
        const job = await client.enqueue('reminder.send', { n }, { delay: 1_000 + Math.floor(Math.random() * 19_000) });
        due.set(job.id, Date.parse(job.runAt as string));
      }
    } finally {
      await client.close();
    }
    await node.ctl('stop_app');
    const stoppedAt = Date.now();
    await node.ctl('start_app');
    await node.ctl('await_startup');
    const downMs = Date.now() - stoppedAt;

    inspector = await connect(node.amqpUrl);
    const channel = await inspector.createChannel();
    const arrivals = new Map<string, number[]>();
    await channel.consume('reminders', (message) => {
      if (message === null) return;
      const id = String(message.properties.messageId);
      arrivals.set(id, [...(arrivals.get(id) ?? []), Date.now()]);
      channel.ack(message);
    });
    await waitFor(`all ${JOBS} delayed jobs`, () => arrivals.size === JOBS, 60_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // time for a duplicate to show
    const early = [...arrivals].filter(([id, times]) => (times[0] ?? 0) < (due.get(id) ?? Infinity));
    const twice = [...arrivals.values()].filter((times) => times.length > 1).length;
    const errorsDueAfter = (ms: number) =>
      [...arrivals]
        .filter(([id]) => (due.get(id) ?? 0) > stoppedAt + downMs + ms)
        .map(([id, times]) => (times[0] ?? 0) - (due.get(id) ?? 0))
        .sort((a, b) => a - b);
    const soon = errorsDueAfter(1_000);
    const later = errorsDueAfter(5_000);
    console.log(
      `restart took ${downMs} ms; ${arrivals.size}/${JOBS} arrived, ${twice} twice (at-least-once); ` +
        `due > 1 s after it: ${soon.length}, error ms min ${soon[0]} max ${soon.at(-1)}; ` +
        `due > 5 s after it: ${later.length}, error ms min ${later[0]} max ${later.at(-1)}`,
    );
    expect([...due.keys()].filter((id) => !arrivals.has(id))).toEqual([]);
    expect(early).toEqual([]);
  });
});
