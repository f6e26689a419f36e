import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.ts';
import { generatePayloadTypes, typeNames } from '../../src/typegen/generate.ts';
import { jsonSchemaToType } from '../../src/typegen/json-schema-type.ts';
import { consumersReachedBy, jobTypesByConsumer, topicMatches } from '../../src/typegen/routing.ts';

function planOf(yaml: string) {
  const parsed = parseTopology(yaml, 'test.yaml');
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('\n'));
  return parsed.value.plan;
}

const flat = (type: string) => type.replace(/\s+/g, ' ');

describe('JSON Schema → TypeScript type', () => {
  it.each([
    [{ type: 'string' }, 'string'],
    [{ type: 'integer' }, 'number'],
    [{ type: ['string', 'null'] }, 'string | null'],
    [{ enum: ['a', "it's", 3, null] }, "'a' | 'it\\'s' | 3 | null"],
    [{ const: 'x' }, "'x'"],
    [{}, 'unknown'],
    [true, 'unknown'],
    [false, 'never'],
    [{ type: 'array', items: { type: ['string', 'number'] } }, '(string | number)[]'],
    [{ type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false, minItems: 1 }, '[string, number?]'],
    [{ type: 'array', items: [{ type: 'string' }] }, '[string?, ...unknown[]]'],
    [{ anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, 'string | string[]'],
    [{ type: 'object', additionalProperties: false }, 'Record<string, never>'],
    [{ type: 'object', additionalProperties: { type: 'number' } }, '{ [key: string]: number; }'],
    [{ type: 'object' }, '{ [key: string]: unknown; }'],
  ])('%j → %s', (schema, expected) => {
    expect(flat(jsonSchemaToType(schema))).toBe(expected);
  });

  it('writes required and optional properties, quotes odd names, documents them, and closes the object when additionalProperties is false', () => {
    const type = jsonSchemaToType({
      type: 'object',
      additionalProperties: false,
      required: ['id', 'a-b'],
      properties: {
        id: { type: 'string', description: 'The id.' },
        'a-b': { type: 'number' },
        tags: { type: 'array', items: { type: 'string' } },
      },
    });
    expect(type).toBe(["{", "  /** The id. */", "  id: string;", "  'a-b': number;", '  tags?: string[];', '}'].join('\n'));
  });

  it('keeps an index signature when extra properties are allowed, so every valid payload type-checks', () => {
    expect(flat(jsonSchemaToType({ properties: { id: { type: 'string' } }, required: ['id'] }))).toBe('{ id: string; [key: string]: unknown; }');
  });

  it('intersects allOf and a sibling type, and follows local $refs (a cycle becomes unknown)', () => {
    const schema = {
      $defs: { money: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } }, additionalProperties: false } },
      type: 'object',
      additionalProperties: false,
      required: ['price', 'parent'],
      properties: { price: { $ref: '#/$defs/money' }, parent: { $ref: '#' } },
      allOf: [{ required: ['price'] }],
    };
    expect(flat(jsonSchemaToType(schema))).toBe(
      '{ price: { amount: number; }; parent: { price: { amount: number; }; parent: unknown; } & { price: unknown; [key: string]: unknown; }; } & { price: unknown; [key: string]: unknown; }',
    );
  });
});

describe('AMQP topic matching', () => {
  it.each([
    ['order.*', 'order.created', true],
    ['order.*', 'order.created.v2', false],
    ['order.#', 'order', true],
    ['#', '', true],
    ['#.created', 'a.b.created', true],
    ['*.created', 'created', false],
    ['order.created', 'order.created', true],
  ])('%s vs %s → %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });
});

describe('which consumers a job type reaches', () => {
  const plan = planOf(`
version: 1
exchanges:
  orders: { type: topic }
  orders.all:
    type: fanout
    bindings: [{ exchange: orders, routingKey: "#" }]
  direct: { type: direct }
jobs:
  order.created: { exchange: orders, routingKey: order.created }
  order.cancelled: { exchange: orders, routingKey: order.cancelled }
  ping: { exchange: direct, routingKey: ping }
consumers:
  created-only: { source: { exchange: orders, pattern: order.created } }
  everything: { source: { exchange: orders.all } }
  sharded: { source: { exchange: orders, pattern: "order.*" }, shards: 2 }
  pinger: { source: { exchange: direct, pattern: ping } }
  idle: { source: { exchange: direct, pattern: nothing } }
`);

  it('follows topic patterns, exchange-to-exchange bindings and consistent-hash shards', () => {
    expect(consumersReachedBy(plan, { exchange: 'orders', routingKey: 'order.created' }).sort()).toEqual(['created-only', 'everything', 'sharded']);
    expect(Object.fromEntries(jobTypesByConsumer(plan))).toEqual({
      'created-only': ['order.created'],
      everything: ['order.cancelled', 'order.created'],
      sharded: ['order.cancelled', 'order.created'],
      pinger: ['ping'],
      idle: [],
    });
  });

  it('a consumer no job type reaches gets unknown payloads', () => {
    expect(generatePayloadTypes(plan, { command: 'warren types t.yaml' })).toContain('  idle: unknown;');
  });
});

describe('generated module', () => {
  it('names payload types after their job types, uniquely and never as one of the maps', () => {
    expect([...typeNames(['order.created', 'order-created', '3d.print', 'job.types', 'JobTypes']).values()]).toEqual([
      'OrderCreated',
      'OrderCreated2',
      'Job3dPrint',
      'JobTypesPayload',
      'JobTypesPayload2',
    ]);
  });

  it('workers/_jobs.ts is what `warren types topology/orders.yaml --out workers/_jobs.ts` generates today', () => {
    const parsed = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'topology/orders.yaml');
    if (!parsed.ok) throw new Error('orders.yaml invalid');
    const expected = generatePayloadTypes(parsed.value.plan, { command: 'warren types topology/orders.yaml --out workers/_jobs.ts' });
    expect(readFileSync('workers/_jobs.ts', 'utf8')).toBe(expected);
  });
});
