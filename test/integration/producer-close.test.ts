import { pino } from 'pino';
import { afterAll, beforeAll, it } from 'vitest';
import { startProducer } from '../../src/producer/index.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { loadTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';

/**
 * A producer closed while its confirm channels are still being opened (a
 * script that enqueues and exits at once) used to crash the process: the
 * channel wrapper emitted its cut-short setup as an 'error' nobody heard
 * (seen in package-install's plain-JavaScript script). vitest fails the run
 * on such an uncaught error.
 */
let vhost: TestVhost;
let plan: TopologyPlan;

beforeAll(async () => {
  vhost = await createTestVhost('warren-producer-close');
  plan = (await loadTopology('topology/orders.yaml')).plan;
  await declarePlanAt(vhost.url, plan);
});
afterAll(async () => {
  await vhost?.cleanup();
});

it('closes cleanly however soon after it started, 30 times over', async () => {
  for (let i = 0; i < 30; i++) {
    const producer = await startProducer({ plan, amqpUrls: [vhost.url], managementUrl: vhost.managementUrl, port: 0, apiTokens: undefined, insecure: true, logger: pino({ level: 'silent' }) });
    await new Promise((resolve) => setTimeout(resolve, i % 10));
    await producer.close();
  }
  // Let anything emitted after the last close surface before the test ends.
  await new Promise((resolve) => setTimeout(resolve, 200));
});
