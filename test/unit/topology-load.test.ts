import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.ts';

const fixture = (name: string) => readFileSync(`test/fixtures/topology/${name}`, 'utf8');

function issuesOf(name: string) {
  const result = parseTopology(fixture(name), name);
  if (result.ok) throw new Error(`${name} was expected to be invalid`);
  return result.issues;
}

describe('parseTopology: invalid files give file:line:col', () => {
  it.each([
    ['unknown-exchange.yaml', 7, 19, 'unknown exchange "order"'],
    ['wrong-type.yaml', 3, 11, 'exchanges.orders.type: Invalid option'],
    ['bad-duration.yaml', 7, 20, 'invalid duration "10x"'],
    ['duplicate-key.yaml', 6, 3, 'duplicate name'],
    ['duplicate-derived.yaml', 7, 5, 'queue inventory.dlq is also defined by queues.inventory.dlq'],
    ['no-source.yaml', 5, 5, 'a consumer needs a source'],
  ])('%s → line %i col %i', (name, line, col, message) => {
    const issues = issuesOf(name);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: name, line, col });
    expect(issues[0]?.message).toContain(message);
  });

  // Cross-references (the unknown `zz`) are checked once the shape is valid.
  it('reports every shape problem of a file, in position order', () => {
    const text = 'exchanges:\n  a: { type: nope }\n  b: { type: topic, durable: maybe }\nqueues:\n  q: { bindings: [{ exchange: zz }] }\n';
    const result = parseTopology(text, 'many.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => [i.line, i.col])).toEqual([
      [2, 14],
      [3, 30],
    ]);
  });

  it('rejects what RabbitMQ refuses for quorum queues', () => {
    const result = parseTopology('queues:\n  q:\n    type: quorum\n    maxPriority: 5\n', 'q.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]).toMatchObject({ line: 4, col: 18, message: expect.stringContaining('priorities') });
  });

  it('reports a syntax error where the parser stopped', () => {
    const result = parseTopology('exchanges:\n  orders: { type: topic\n', 'broken.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.line).toBeGreaterThanOrEqual(2);
  });
});

describe('compileTopology through parseTopology', () => {
  it('compiles orders.yaml to the same plan every time', () => {
    const first = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
    const second = parseTopology(readFileSync('topology/orders.yaml', 'utf8'), 'orders.yaml');
    if (!first.ok || !second.ok) throw new Error('orders.yaml must be valid');
    expect(second.value.plan).toEqual(first.value.plan);
    expect(first.value.plan).toMatchSnapshot();
  });

  it('accepts JSON and expands every exchange type, hash option and builtin default', () => {
    const result = parseTopology(fixture('everything.json'), 'everything.json');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const { plan } = result.value;
    expect(plan.vhost).toBe('shop');
    const exchange = (name: string) => plan.exchanges.find((e) => e.name === name);
    expect(exchange('events')?.arguments).toEqual({ 'alternate-exchange': 'unrouted' });
    expect(exchange('by-customer')?.arguments).toEqual({ 'hash-header': 'customer' });
    expect(exchange('by-id')?.arguments).toEqual({ 'hash-property': 'message_id' });
    // A quorum queue always gets a dead-letter target.
    expect(plan.queues.find((q) => q.name === 'ledger')?.arguments).toEqual({
      'x-queue-type': 'quorum',
      'x-delivery-limit': 5,
      'x-dead-letter-exchange': 'ledger.dlx',
    });
    expect(plan.queues.map((q) => q.name)).toContain('ledger.dlq');
    // A consistent-hash binding key is a weight.
    expect(plan.bindings).toContainEqual(expect.objectContaining({ source: 'by-customer', destination: 'ledger', routingKey: '1' }));
    expect(plan.queues.find((q) => q.name === 'urgent')?.arguments).toEqual({ 'x-max-priority': 10, 'x-message-ttl': 3_600_000 });
    expect(plan.consumers[0]?.source.patterns).toEqual(['invoice.requested', 'invoice.retried']);
  });

  it('defaults the binding key from the source type, builtin exchanges included', () => {
    const text = 'consumers:\n  a: { source: { exchange: amq.topic } }\n  b: { source: { exchange: amq.fanout } }\n';
    const result = parseTopology(text, 'builtin.yaml');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.value.plan.consumers.map((c) => c.source.patterns)).toEqual([['#'], ['']]);
  });
});
