import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { topologyJsonSchema, topologyJsonSchemaText } from '../../src/topology/json-schema.ts';

describe('schema/topology.schema.json', () => {
  it('is up to date with the zod schema (regenerate: node --import tsx src/topology/write-json-schema.ts)', () => {
    expect(readFileSync('schema/topology.schema.json', 'utf8')).toBe(topologyJsonSchemaText());
  });

  it('accepts the reference topology and rejects a bad exchange type and a bad duration', () => {
    const validate = new Ajv2020({ strict: false }).compile(topologyJsonSchema());
    expect(validate(parse(readFileSync('topology/orders.yaml', 'utf8')))).toBe(true);
    expect(validate({ exchanges: { orders: { type: 'topics' } } })).toBe(false);
    expect(validate({ exchanges: { o: { type: 'topic' } }, consumers: { c: { source: { exchange: 'o' }, retry: { delays: ['10x'] } } } })).toBe(false);
  });
});
