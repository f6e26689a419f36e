import { describe, expect, it } from 'vitest';
import { parseApiTokens } from '../../src/producer/auth.ts';
import { withoutAddresses } from '../../src/producer/http-errors.ts';
import { buildJobTypes, InvalidOrderingKeyError, ORDERING_KEY_MAX_BYTES, orderingKeyOf } from '../../src/client/job-types.ts';
import { isJsonContentType, jsonDepthExceeds } from '../../src/producer/json-body.ts';
import { pageOf, pageQuery, parsePageQuery } from '../../src/producer/pagination.ts';

/** The producer's input and output bounds, as pure functions (the security suite runs them over HTTP). */

const bytes = (text: string) => Buffer.from(text);

describe('jsonDepthExceeds', () => {
  it('counts nested arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds(bytes('[[[]]]'), 3)).toBe(false);
    expect(jsonDepthExceeds(bytes('[[[[]]]]'), 3)).toBe(true);
    expect(jsonDepthExceeds(bytes('{"a":{"b":{"c":1}}}'), 3)).toBe(false);
    expect(jsonDepthExceeds(bytes('{"a":{"b":{"c":{}}}}'), 3)).toBe(true);
    expect(jsonDepthExceeds(bytes(`{"text":"${'['.repeat(100)}"}`), 3)).toBe(false);
    // An escaped quote does not end the string.
    expect(jsonDepthExceeds(bytes(`{"text":"\\"${'{'.repeat(100)}"}`), 3)).toBe(false);
  });

  it('measures depth, not the number of siblings', () => {
    expect(jsonDepthExceeds(bytes(JSON.stringify(Array.from({ length: 500 }, () => [[1]]))), 3)).toBe(false);
  });

  it('finds unclosed depth in malformed text too (the parser reports the syntax)', () => {
    expect(jsonDepthExceeds(bytes('['.repeat(5_000)), 64)).toBe(true);
  });
});

describe('isJsonContentType', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON;charset="UTF-8"', true],
    ['application/vnd.api+json', true],
    ['application/json; charset=utf-16', false],
    ['application/json; charset=latin1', false],
    ['application/x-www-form-urlencoded', false],
    ['text/plain', false],
    ['multipart/form-data; boundary=x', false],
    ['application/jsonx', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (value, expected) => {
    expect(isJsonContentType(value)).toBe(expected);
  });
});

describe('withoutAddresses', () => {
  it.each([
    'cannot connect to the broker: connect ECONNREFUSED 127.0.0.1:5672',
    'management API at http://guest:***@rabbit.internal:15672/ is unreachable',
    'connect ECONNREFUSED ::1:5672',
    'connect ECONNREFUSED [fe80::1]:5672',
    'getaddrinfo ENOTFOUND rabbit-0.rabbit.svc.cluster.local:5672',
    'amqp://user:pw@10.0.0.7/vhost refused',
  ])('%s', (message) => {
    const clean = withoutAddresses(message);
    expect(clean).toContain('<address>');
    expect(clean).not.toMatch(/\d+\.\d+\.\d+\.\d+|:\d{2,5}\b|:\/\/|::1|rabbit/);
  });

  it('leaves plain failure text alone', () => {
    expect(withoutAddresses('not connected to the broker')).toBe('not connected to the broker');
    expect(withoutAddresses('no confirm within 5000 ms')).toBe('no confirm within 5000 ms');
  });
});

describe('pagination', () => {
  const schema = pageQuery({ max: 10 });

  it('defaults to the maximum page and says where the next one starts', () => {
    const all = Array.from({ length: 25 }, (_, i) => i);
    expect(pageOf(all, parsePageQuery(schema, {}))).toEqual({ items: all.slice(0, 10), total: 25, offset: 0, limit: 10, nextOffset: 10 });
    expect(pageOf(all, parsePageQuery(schema, { offset: '20' }))).toEqual({ items: all.slice(20), total: 25, offset: 20, limit: 10 });
    expect(pageOf(all, parsePageQuery(schema, { offset: '99' })).items).toEqual([]);
  });

  it.each([{ limit: '11' }, { limit: '0' }, { limit: '2.5' }, { offset: '-1' }, { cursor: 'x' }])('refuses %o with a 400', (query) => {
    expect(() => parsePageQuery(schema, query)).toThrow(expect.objectContaining({ status: 400, code: 'INVALID_QUERY' }));
  });
});

describe('ordering key bound', () => {
  const [jobType] = buildJobTypes([{ type: 'keyed', exchange: 'x', routingKey: 'k', orderingKey: 'account.id', payloadSchema: { type: 'object' } }]).values();

  it(`accepts up to ${ORDERING_KEY_MAX_BYTES} UTF-8 bytes and refuses more, naming the field`, () => {
    if (jobType === undefined) throw new Error('no job type');
    expect(orderingKeyOf(jobType, { account: { id: 'a'.repeat(ORDERING_KEY_MAX_BYTES) } })).toHaveLength(ORDERING_KEY_MAX_BYTES);
    expect(() => orderingKeyOf(jobType, { account: { id: 'a'.repeat(ORDERING_KEY_MAX_BYTES + 1) } })).toThrow(InvalidOrderingKeyError);
    // 128 two-byte characters: 256 bytes.
    expect(() => orderingKeyOf(jobType, { account: { id: 'é'.repeat(128) } })).toThrow(/account\.id.*255 bytes/);
    expect(() => orderingKeyOf(jobType, { account: {} })).toThrow(/account\.id/);
  });
});

describe('API tokens', () => {
  it('refuses the .env.example placeholder without echoing it', () => {
    expect(() => parseApiTokens('CHANGE-ME-admin-token:admin')).toThrow(/entry 1 is the placeholder/);
    expect(() => parseApiTokens('CHANGE-ME-admin-token:admin')).not.toThrow(/CHANGE-ME-admin-token/);
    expect(parseApiTokens(' ')).toEqual([]);
    expect(parseApiTokens('s3cret:enqueue,0th3r:admin').map((t) => t.scope)).toEqual(['enqueue', 'admin']);
  });
});
