import { describe, expect, it } from 'vitest';
import { buildJobTypes } from '../../src/client/job-types.ts';
import { prepareJob } from '../../src/client/prepare.ts';
import { HEADERS, jobHeaders, shardHeader, shardHeaders } from '../../src/message/headers.ts';
import { stableHash } from '../../src/message/key-hash.ts';
import { partitionOf } from '../../src/streams/partition-hash.ts';
import { parseTopology } from '../../src/topology/load.ts';
import type { TopologyPlan } from '../../src/topology/plan.ts';

function planOf(yaml: string): TopologyPlan {
  const parsed = parseTopology(yaml, 'shards.yaml');
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join('\n'));
  return parsed.value.plan;
}

const TOPOLOGY = `version: 1
exchanges:
  orders: { type: topic }
jobs:
  order.created: { exchange: orders, orderingKey: orderId, schema: { type: object } }
  order.noted: { exchange: orders, schema: { type: object } }
consumers:
  payments: { source: { exchange: orders, pattern: "order.*" }, shards: 4 }
  audit: { source: { exchange: orders, pattern: "order.*" }, shards: 2 }
  ledger: { source: { exchange: orders, pattern: "order.*" }, shards: 4 }
  mail: { source: { exchange: orders, pattern: "order.*" } }
`;

describe('x-warren-shard-<N>: the shard the producer names', () => {
  it('is stableHash(key) mod N as a decimal string — the stream partition function, so one hash serves both', () => {
    expect(shardHeader(4)).toBe('x-warren-shard-4');
    // The contract vectors of the partition hash (test/unit/streams-hash.test.ts).
    expect(shardHeaders('order-1', [3, 4])).toEqual({ 'x-warren-shard-3': '1', 'x-warren-shard-4': '1' });
    expect(shardHeaders('order-2', [4])).toEqual({ 'x-warren-shard-4': '0' });
    expect(shardHeaders('user:42', [4])).toEqual({ 'x-warren-shard-4': '2' });
    for (let i = 0; i < 200; i++) {
      const key = `k-${i}-é`;
      for (const n of [1, 2, 7, 256]) expect(shardHeaders(key, [n])[shardHeader(n)]).toBe(String(partitionOf(key, n)));
    }
    expect(shardHeaders('k', [])).toEqual({});
    expect(() => shardHeaders('k', [0])).toThrow(RangeError);
  });

  it('is on a job with an ordering key, one per shard count; never on a keyless job', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const keyed = jobHeaders({ exchange: 'orders', routingKey: 'order.created', orderingKey: 'o-9', shardCounts: [2, 4], now });
    expect(keyed).toMatchObject({ [HEADERS.orderingKey]: 'o-9', 'x-warren-shard-2': String(stableHash('o-9') % 2), 'x-warren-shard-4': String(stableHash('o-9') % 4) });
    const keyless = jobHeaders({ exchange: 'orders', routingKey: 'order.noted', shardCounts: [2, 4], now });
    expect(Object.keys(keyless).filter((name) => name.startsWith(HEADERS.shardPrefix))).toEqual([]);
  });
});

describe('compiled sharded consumers', () => {
  const plan = planOf(TOPOLOGY);

  it("each gets a headers exchange whose unmatched jobs go to the consumer's DLQ, and one all-with-x binding per shard", () => {
    expect(plan.exchanges.find((e) => e.name === 'payments.shard')).toEqual({
      name: 'payments.shard',
      type: 'headers',
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: { 'alternate-exchange': 'payments.dlx' },
    });
    expect(plan.bindings.filter((b) => b.source === 'audit.shard')).toEqual([
      { source: 'audit.shard', destination: 'audit.shard.0', destinationType: 'queue', routingKey: '', arguments: { 'x-match': 'all-with-x', 'x-warren-shard-2': '0' } },
      { source: 'audit.shard', destination: 'audit.shard.1', destinationType: 'queue', routingKey: '', arguments: { 'x-match': 'all-with-x', 'x-warren-shard-2': '1' } },
    ]);
    expect(plan.bindings.filter((b) => b.destination === 'payments.shard')).toEqual([
      { source: 'orders', destination: 'payments.shard', destinationType: 'exchange', routingKey: 'order.*', arguments: {} },
    ]);
    expect(plan.exchanges.some((e) => e.type === 'x-consistent-hash')).toBe(false);
  });

  it('gives every job type with an ordering key the distinct shard counts of the plan, ascending', () => {
    expect(plan.jobs.find((job) => job.type === 'order.created')?.shardCounts).toEqual([2, 4]);
    expect(plan.jobs.find((job) => job.type === 'order.noted')?.shardCounts).toBeUndefined();
    expect(planOf(TOPOLOGY.replace(/ {2}(payments|audit|ledger): .*\n/g, '')).jobs.find((job) => job.type === 'order.created')?.shardCounts).toBeUndefined();
  });

  it('the job client writes the headers the bindings match: each key matches exactly one shard of each consumer', () => {
    const jobType = buildJobTypes(plan.jobs).get('order.created');
    if (jobType === undefined) throw new Error('fixture');
    for (let i = 0; i < 100; i++) {
      const { message } = prepareJob(jobType, { payload: { orderId: `o-${i}` }, id: `j-${i}`, correlationId: undefined, headers: undefined, now: new Date() });
      const headers = message.options.headers ?? {};
      for (const consumer of ['payments', 'audit', 'ledger']) {
        const matched = plan.bindings.filter(
          (b) => b.source === `${consumer}.shard` && Object.entries(b.arguments).every(([name, value]) => name === 'x-match' || headers[name] === value),
        );
        expect(matched.map((b) => b.destination)).toEqual([`${consumer}.shard.${stableHash(`o-${i}`) % (consumer === 'audit' ? 2 : 4)}`]);
      }
    }
  });
});
