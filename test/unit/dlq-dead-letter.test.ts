import { describe, expect, it } from 'vitest';
import { describeDeadLetter, payloadPreview, resolveOrigin } from '../../src/dlq/dead-letter.ts';
import { groupDeadLetters } from '../../src/dlq/report.ts';
import { deadLetterQueuesOf, assertDeadLetterQueue, pacedSendTime, parseLimit, parseRate } from '../../src/dlq/target.ts';
import { deadLetterHeaders, jobHeaders } from '../../src/message/headers.ts';
import { parseTopology } from '../../src/topology/load.ts';

const now = new Date('2024-05-01T10:00:00Z');
const ours = deadLetterHeaders(jobHeaders({ exchange: 'orders', routingKey: 'order.created', now }), {
  reason: 'non-retryable',
  error: { class: 'TypeError', message: 'x is undefined', stack: 'TypeError: x\n  at a' },
  attempts: 3,
  worker: 'w1',
  consumer: 'inventory',
  deliveredFrom: { exchange: 'orders.all', routingKey: 'order.created' },
  now,
});
/** What RabbitMQ itself puts on a message it dead-lettered twice (newest death first). */
const brokerDeaths = {
  'x-first-death-exchange': 'orders',
  'x-first-death-queue': 'inventory',
  'x-first-death-reason': 'rejected',
  'x-death': [
    { queue: 'inventory.retry.1s', reason: 'expired', count: 1, exchange: '', 'routing-keys': ['inventory.retry.1s'], time: { '!': 'timestamp', value: 1714557660 } },
    { queue: 'inventory', reason: 'rejected', count: 2, exchange: 'orders', 'routing-keys': ['order.created'], time: { '!': 'timestamp', value: 1714557600 } },
  ],
};

describe('dead-letter views', () => {
  it('reads the failure context of our headers', () => {
    const view = describeDeadLetter({ content: Buffer.from('{"orderId": "o-1"}'), properties: { messageId: 'j1', type: 'order.created', contentType: 'application/json', headers: ours } });
    expect(view).toEqual({
      id: 'j1',
      jobType: 'order.created',
      attempts: 3,
      error: { class: 'TypeError', message: 'x is undefined' },
      firstFailedAt: '2024-05-01T10:00:00.000Z',
      failedAt: '2024-05-01T10:00:00.000Z',
      origin: { exchange: 'orders', routingKey: 'order.created' },
      payloadPreview: '{"orderId": "o-1"}',
    });
  });

  it('falls back to x-first-death-* and the oldest x-death entry for broker dead-letters', () => {
    expect(resolveOrigin(brokerDeaths)).toEqual({ exchange: 'orders', routingKey: 'order.created' });
    const view = describeDeadLetter({ content: Buffer.from('x'), properties: { headers: brokerDeaths } });
    expect(view).toMatchObject({
      id: null,
      attempts: 3,
      error: { class: 'rejected', message: 'dead-lettered by the broker (rejected) from queue inventory' },
      firstFailedAt: '2024-05-01T10:00:00.000Z',
      failedAt: '2024-05-01T10:01:00.000Z',
    });
  });

  it('has no origin when no header says where the message went', () => {
    expect(resolveOrigin({})).toBeNull();
    expect(resolveOrigin({ 'x-death': [{ queue: 'q', reason: 'expired', exchange: 'e' }] })).toBeNull();
    expect(describeDeadLetter({ content: Buffer.alloc(0), properties: {} }).error.class).toBe('unknown');
  });

  it('previews text on one trimmed line and binary as a byte count', () => {
    expect(payloadPreview(Buffer.from('{\n  "a": 1\n}'), 'application/json')).toBe('{ "a": 1 }');
    expect(payloadPreview(Buffer.from('a'.repeat(500)), null, 10)).toBe(`${'a'.repeat(9)}…`);
    expect(payloadPreview(Buffer.from([0xff, 0xfe, 0x00]), 'application/octet-stream')).toBe('<3 bytes application/octet-stream>');
    expect(payloadPreview(Buffer.from([0xff, 0xfe]), 'text/plain')).toBe('<2 bytes text/plain>');
  });

  it('groups by job type and error, largest first', () => {
    const base = describeDeadLetter({ content: Buffer.from('{}'), properties: { type: 'a', headers: ours } });
    const other = { ...base, jobType: 'b' };
    expect(groupDeadLetters([base, other, other]).map((g) => [g.jobType, g.count])).toEqual([['b', 2], ['a', 1]]);
  });
});

describe('dlq targets and options', () => {
  const parsed = parseTopology(
    `
version: 1
exchanges: { orders: { type: topic } }
queues:
  ledger: { type: quorum, bindings: [{ exchange: orders, routingKey: "#" }] }
consumers:
  inventory: { source: { exchange: orders, pattern: "order.*" }, retry: { delays: [1s] } }
`,
    't.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const plan = parsed.value.plan;

  it('knows the consumer DLQs and the DLQs derived for quorum queues', () => {
    expect([...deadLetterQueuesOf(plan)].sort()).toEqual(['inventory.dlq', 'ledger.dlq']);
    expect(() => assertDeadLetterQueue('inventory.dlq', plan)).not.toThrow();
    expect(() => assertDeadLetterQueue('inventory', plan)).toThrow(/not a dead-letter queue of the topology/);
    expect(() => assertDeadLetterQueue('other.dlq', undefined)).not.toThrow();
    expect(() => assertDeadLetterQueue('inventory', undefined)).toThrow(/end in ".dlq"/);
  });

  it('parses rates and limits, and paces sends evenly', () => {
    expect(parseRate('200')).toBe(200);
    expect(parseRate('200/s')).toBe(200);
    expect(parseRate('600/m')).toBe(10);
    expect(parseRate(undefined)).toBeUndefined();
    expect(() => parseRate('0')).toThrow(/bad --rate/);
    expect(() => parseRate('fast')).toThrow(/bad --rate/);
    expect(parseLimit('10')).toBe(10);
    expect(() => parseLimit('-1')).toThrow(/bad --limit/);
    expect(pacedSendTime(1_000, 999, 200)).toBe(1_000 + 4_995);
    expect(pacedSendTime(1_000, 999, undefined)).toBe(1_000);
  });
});
