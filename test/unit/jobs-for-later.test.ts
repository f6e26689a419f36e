import { describe, expect, it } from 'vitest';
import { InvalidJobOptionError } from '../../src/client/errors.ts';
import { buildJobMessage } from '../../src/client/job-message.ts';
import { buildJobTypes, type JobType } from '../../src/client/job-types.ts';
import { applyTiming, checkPriority, checkTiming } from '../../src/client/timing.ts';
import { HEADERS } from '../../src/message/headers.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';

function parse(yaml: string) {
  return parseTopology(yaml, 'test.yaml');
}

function planOf(yaml: string): TopologyPlan {
  const parsed = parse(yaml);
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return parsed.value.plan;
}

const BASE = `
version: 1
exchanges:
  shop: { type: topic }
jobs:
  plain: { exchange: shop }
`;

describe('compile: the delay levels', () => {
  it('declares nothing for a topology whose job types take no delays', () => {
    const plan = planOf(BASE);
    expect(plan.delays).toBeUndefined();
    expect([...plan.exchanges, ...plan.queues].filter((o) => o.name.startsWith('warren.delay'))).toEqual([]);
  });

  it('declares 29 levels, the deliver exchange and one landing queue per job type with delays (quorum, at-least-once)', () => {
    const plan = planOf(`${BASE}  later: { exchange: shop, routingKey: later.run, delays: true }\n`);
    expect(plan.delays).toMatchObject({ queueType: 'quorum', tickMs: 100, levels: 29 });
    const queues = plan.queues.filter((q) => q.name.startsWith('warren.delay'));
    expect(queues.map((q) => q.name)).toEqual([
      'warren.delay.land.later',
      ...Array.from({ length: 29 }, (_, i) => `warren.delay.level.${String(i).padStart(2, '0')}`),
    ]);
    expect(queues.find((q) => q.name === 'warren.delay.level.05')?.arguments).toMatchObject({
      'x-queue-type': 'quorum',
      'x-message-ttl': 3_200,
      'x-dead-letter-exchange': 'warren.delay.level.04',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    expect(queues.find((q) => q.name === 'warren.delay.level.00')?.arguments['x-dead-letter-exchange']).toBe('warren.delay.deliver');
    expect(queues[0]?.arguments).toMatchObject({ 'x-message-ttl': 0, 'x-dead-letter-exchange': 'shop', 'x-dead-letter-routing-key': 'later.run' });
    expect(plan.jobs.find((j) => j.type === 'later')?.delays).toEqual({ landingQueue: 'warren.delay.land.later' });
    expect(plan.jobs.find((j) => j.type === 'plain')?.delays).toBeUndefined();
  });

  it('takes the queue type from `delays:` (classic queues have no dead-letter strategy)', () => {
    const plan = planOf(`${BASE}  later: { exchange: shop, delays: true }\ndelays: { queueType: classic }\n`);
    const level = plan.queues.find((q) => q.name === 'warren.delay.level.00');
    expect(level?.type).toBe('classic');
    expect(level?.arguments['x-dead-letter-strategy']).toBeUndefined();
  });
});

describe('compile: priorities', () => {
  const withConsumer = (type: 'classic' | 'quorum', pattern = '"job.*"') => `
version: 1
exchanges:
  shop: { type: topic }
jobs:
  job.urgent: { exchange: shop, priority: { max: 9, default: 1 } }
  job.other: { exchange: shop, priority: { max: 4 } }
  plain: { exchange: shop }
consumers:
  work:
    source: { exchange: shop, pattern: ${pattern} }
    queueOptions: { type: ${type} }
`;

  it("a classic consumer receiving job types with priorities gets x-max-priority = the highest max", () => {
    const plan = planOf(withConsumer('classic'));
    expect(plan.queues.find((q) => q.name === 'work')?.arguments['x-max-priority']).toBe(9);
    expect(plan.jobs.find((j) => j.type === 'job.urgent')?.priority).toEqual({ max: 9, default: 1 });
  });

  it('a consumer whose pattern matches no job type with priorities gets none', () => {
    const plan = planOf(withConsumer('classic', 'plain'));
    expect(plan.queues.find((q) => q.name === 'work')?.arguments['x-max-priority']).toBeUndefined();
  });

  it('validate says clearly that a quorum work queue cannot have priorities on 3.10', () => {
    const parsed = parse(withConsumer('quorum'));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues).toHaveLength(1);
    expect(parsed.issues[0]?.message).toMatch(/job types "job.other", "job.urgent" with priorities, but its work queue is a quorum queue, which has no priorities on RabbitMQ 3.10/);
    expect(parsed.issues[0]?.line).toBe(10);
  });

  it('follows exchange-to-exchange bindings; an explicit queueOptions.maxPriority wins', () => {
    const plan = planOf(`
version: 1
exchanges:
  shop: { type: topic }
  mail: { type: fanout, bindings: [{ exchange: shop, routingKey: "job.#" }] }
jobs:
  job.urgent: { exchange: shop, priority: { max: 9 } }
consumers:
  relayed:
    source: { exchange: mail }
    queueOptions: { type: classic }
  pinned:
    source: { exchange: shop, pattern: "job.*" }
    queueOptions: { type: classic, maxPriority: 3 }
`);
    expect(plan.queues.find((q) => q.name === 'relayed')?.arguments['x-max-priority']).toBe(9);
    expect(plan.queues.find((q) => q.name === 'pinned')?.arguments['x-max-priority']).toBe(3);
  });

  it('refuses a default above the max', () => {
    const parsed = parse(`${BASE}  p: { exchange: shop, priority: { max: 3, default: 5 } }\n`);
    expect(parsed.ok).toBe(false);
  });
});

describe('enqueue options: delay, runAt, priority', () => {
  const types = buildJobTypes(planOf(`${BASE}  later: { exchange: shop, delays: true, priority: { max: 5 } }\n`).jobs);
  const later = types.get('later') as JobType;
  const plain = types.get('plain') as JobType;
  const now = new Date('2030-01-01T00:00:00.000Z');

  it('a delay (ms or duration) or a run-at time gives the due time and the path', () => {
    expect(checkTiming(later, '90s', undefined, now)?.runAt.toISOString()).toBe('2030-01-01T00:01:30.000Z');
    expect(checkTiming(later, 1_234, undefined, now)?.path.delayMs).toBe(1_300);
    const at = checkTiming(later, undefined, '2030-01-01T01:00:00+01:00', now);
    expect(at).toBeUndefined(); // that is midnight UTC: due now
    expect(checkTiming(later, undefined, new Date('2030-01-02T00:00:00Z'), now)?.path.delayMs).toBe(86_400_000);
    expect(checkTiming(later, 0, undefined, now)).toBeUndefined();
    expect(checkTiming(later, undefined, undefined, now)).toBeUndefined();
  });

  it('refuses what cannot be delivered as asked', () => {
    const refused = (run: () => unknown) => expect(run).toThrow(InvalidJobOptionError);
    refused(() => checkTiming(later, '1s', '2030-01-01T00:00:01Z', now));
    refused(() => checkTiming(later, -1, undefined, now));
    refused(() => checkTiming(later, 'soon', undefined, now));
    refused(() => checkTiming(later, undefined, '2030-01-01T00:00:01', now)); // no zone
    refused(() => checkTiming(later, undefined, 'tomorrow', now));
    refused(() => checkTiming(later, '1000d', undefined, now));
    refused(() => checkTiming(plain, '1s', undefined, now));
  });

  it('a priority is 0 … max of a job type that has priorities; the default applies when none is given', () => {
    expect(checkPriority(later, 5)).toBe(5);
    expect(checkPriority(later, '3')).toBe(3);
    expect(checkPriority(later, undefined)).toBeUndefined();
    expect(() => checkPriority(later, 6)).toThrow(InvalidJobOptionError);
    expect(() => checkPriority(later, 1.5)).toThrow(InvalidJobOptionError);
    expect(() => checkPriority(plain, 1)).toThrow(/has no priorities/);
  });

  it('a delayed message is the same job sent to the first level it needs, with its due time', () => {
    const message = buildJobMessage({ jobType: later, payload: { a: 1 }, id: 'j-1', orderingKey: undefined, correlationId: undefined, now });
    const before = structuredClone(message.options.headers);
    const timing = checkTiming(later, '1s', undefined, now);
    applyTiming(message, timing, 4);
    expect(message.exchange).toBe('warren.delay.level.03');
    expect(message.routingKey).toBe(timing?.path.routingKey);
    expect(message.options.messageId).toBe('j-1');
    expect(message.options.priority).toBe(4);
    expect(message.options.timestamp).toBe(Date.parse('2030-01-01T00:00:01Z') / 1000); // lag counts from the due time
    expect(message.options.headers?.[HEADERS.firstSeenAt]).toBe(now.toISOString());
    expect(message.options.headers).toEqual({ ...before, [HEADERS.runAt]: '2030-01-01T00:00:01.000Z' });
  });
});
