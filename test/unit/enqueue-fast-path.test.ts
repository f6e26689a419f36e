import { describe, expect, it } from 'vitest';
import { matchEnqueueRoute, parseBody } from '../../src/producer/enqueue-fast-path.ts';
import { ApiError } from '../../src/producer/http-errors.ts';

describe('matchEnqueueRoute', () => {
  it('takes POST /v1/jobs/{type} and /v1/jobs/{type}/batch, query strings ignored', () => {
    expect(matchEnqueueRoute('POST', '/v1/jobs/order.created')).toEqual({ route: 'one', jobType: 'order.created' });
    expect(matchEnqueueRoute('POST', '/v1/jobs/order.created/batch?x=1')).toEqual({ route: 'batch', jobType: 'order.created' });
    expect(matchEnqueueRoute('POST', '/v1/jobs/a%20b')).toEqual({ route: 'one', jobType: 'a%20b' });
  });

  it('leaves every other request to express', () => {
    for (const [method, url] of [
      ['GET', '/v1/jobs/order.created'],
      ['POST', '/v1/jobs'],
      ['POST', '/v1/jobs/'],
      ['POST', '/v1/jobs//batch'],
      ['POST', '/v1/jobs/a/b'],
      ['POST', '/v1/jobs/a/b/batch'],
      ['POST', '/v1/dlq/x/replay'],
      ['PUT', '/v1/jobs/a'],
    ] as const) {
      expect(matchEnqueueRoute(method, url), `${method} ${url}`).toBeUndefined();
    }
  });
});

describe('parseBody (what express.json in strict mode with our checks makes of the bytes)', () => {
  const refusal = (bytes: Buffer): string | undefined => {
    try {
      parseBody(bytes);
      return undefined;
    } catch (error) {
      return error instanceof ApiError ? `${error.status} ${error.code}` : 'not an ApiError';
    }
  };

  it('parses objects and arrays; an empty body is {}; a BOM is dropped', () => {
    expect(parseBody(Buffer.from(' {"a":1}\n'))).toEqual({ a: 1 });
    expect(parseBody(Buffer.from('[1,2]'))).toEqual([1, 2]);
    expect(parseBody(Buffer.alloc(0))).toEqual({});
    expect(parseBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"b":2}')]))).toEqual({ b: 2 });
  });

  it('refuses a top level that is not an object or an array, bad JSON, bad UTF-8 and deep nesting, in that shape', () => {
    expect(refusal(Buffer.from('"text"'))).toBe('400 BAD_JSON');
    expect(refusal(Buffer.from('42'))).toBe('400 BAD_JSON');
    expect(refusal(Buffer.from('{"a":'))).toBe('400 BAD_JSON');
    expect(refusal(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).toBe('400 INVALID_UTF8');
    expect(refusal(Buffer.from(`${'['.repeat(65)}${']'.repeat(65)}`))).toBe('400 JSON_TOO_DEEP');
    expect(refusal(Buffer.from(`${'['.repeat(64)}${']'.repeat(64)}`))).toBeUndefined();
  });
});
