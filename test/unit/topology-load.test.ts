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
    if (!result.ok) expect(result.issues[0]).toMatchObject({ line: 4, col: 18, message: expect.stringContaining('x-max-priority is for classic queues only') });
  });

  it('points at a bad name in a map of names and says what is wrong with it', () => {
    const result = parseTopology(`exchanges:\n  "bad name": { type: topic }\n  ${'x'.repeat(256)}: { type: topic }\n`, 'names.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => [i.line, i.col])).toEqual([
      [2, 3],
      [3, 3],
    ]);
    expect(result.issues[0]?.message).toBe('exchanges.bad name: invalid name: names may use letters, digits and . _ - : only');
    expect(result.issues[1]?.message).toContain('names are at most 255 bytes');
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

  it('accepts JSON and expands every exchange type, hash option, queue type and builtin default', () => {
    const result = parseTopology(fixture('everything.json'), 'everything.json');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const { plan } = result.value;
    expect(plan.vhost).toBe('shop');
    const exchange = (name: string) => plan.exchanges.find((e) => e.name === name);
    expect(exchange('events')?.arguments).toEqual({ 'alternate-exchange': 'unrouted' });
    expect(exchange('by-customer')?.arguments).toEqual({ 'hash-header': 'customer' });
    expect(exchange('by-id')?.arguments).toEqual({ 'hash-property': 'message_id' });
    // A quorum queue always gets a dead-letter target, and its DLQ is quorum too.
    expect(plan.queues.find((q) => q.name === 'ledger')?.arguments).toEqual({
      'x-queue-type': 'quorum',
      'x-delivery-limit': 5,
      'x-queue-leader-locator': 'balanced',
      'x-dead-letter-exchange': 'ledger.dlx',
    });
    expect(plan.queues.find((q) => q.name === 'ledger.dlq')).toMatchObject({ type: 'quorum' });
    // Explicitly classic, placed by the broker's own default.
    expect(plan.queues.find((q) => q.name === 'unrouted')).toMatchObject({ type: 'classic', arguments: {} });
    // A consistent-hash binding key is a weight.
    expect(plan.bindings).toContainEqual(expect.objectContaining({ source: 'by-customer', destination: 'ledger', routingKey: '1' }));
    expect(plan.queues.find((q) => q.name === 'urgent')?.arguments).toEqual({
      'x-max-priority': 10,
      'x-message-ttl': 3_600_000,
      'x-queue-master-locator': 'min-masters',
    });
    expect(plan.consumers[0]?.source.patterns).toEqual(['invoice.requested', 'invoice.retried']);
  });

  it('defaults the binding key from the source type, builtin exchanges included', () => {
    const text = 'consumers:\n  a: { source: { exchange: amq.topic } }\n  b: { source: { exchange: amq.fanout } }\n';
    const result = parseTopology(text, 'builtin.yaml');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.value.plan.consumers.map((c) => c.source.patterns)).toEqual([['#'], ['']]);
  });
});

describe('broker limits: validate refuses what RabbitMQ would refuse, at the position that causes it', () => {
  it.each([
    [
      'reserved-names.yaml',
      [
        [4, 3, 'exchanges.amq.orders: exchange name "amq.orders" starts with "amq."'],
        [6, 3, 'queues.amq.audit: derived exchange name "amq.audit.dlx" starts with "amq."'],
        [6, 3, 'queues.amq.audit: derived queue name "amq.audit.dlq" starts with "amq."'],
        [6, 3, 'queues.amq.audit: queue name "amq.audit" starts with "amq."'],
        [11, 5, 'consumers.inventory.queue: queue name "amq.inventory" starts with "amq."'],
      ],
    ],
    [
      'long-derived-names.yaml',
      [
        [6, 3, '.retry.10s" is 256 bytes; RabbitMQ allows at most 255 bytes (UTF-8): shorten the name it is derived from'],
        [11, 5, 'consumers.payments.queue: derived queue name "wwwwwwwwwwwwwwwwwwww…wwwwwwwwwwwwwwww.shard.0" is 256 bytes'],
        [11, 5, 'consumers.payments.queue: derived queue name "wwwwwwwwwwwwwwwwwwww…wwwwwwwwwwwwwwww.shard.1" is 256 bytes'],
      ],
    ],
    [
      'long-routing-keys.yaml',
      [
        [8, 17, 'jobs.order.created.routingKey: routing key is 260 bytes; RabbitMQ allows at most 255 bytes (UTF-8)'],
        [13, 21, 'queues.audit.bindings.0.routingKey: routing key is 256 bytes'],
        [16, 54, 'consumers.inventory.source.pattern.1: binding pattern is 260 bytes'],
      ],
    ],
    [
      'broker-refusals.yaml',
      [
        [7, 46, 'exchanges.hashed.hashOn: set hashOn or a hash-header/hash-property argument, not both'],
        [9, 30, 'jobs.order.created.exchange: exchange "orders" is internal: RabbitMQ refuses every publish to it'],
        [12, 18, 'queues.ledger.maxPriority: x-max-priority is for classic queues only'],
        [13, 32, 'queues.ledger.arguments.x-queue-mode: x-queue-mode is for classic queues only'],
        [16, 20, 'queues.cache.deliveryLimit: x-delivery-limit is for quorum queues only'],
        [17, 27, 'queues.cache.deadLetterRoutingKey: a dead-letter routing key needs a dead-letter exchange'],
        [18, 42, 'queues.cache.arguments.x-queue-master-locator: x-queue-master-locator must be one of min-masters, client-local, random'],
        [20, 17, 'queues.audit.messageTtl: x-message-ttl must be an integer from 0 to 315360000000 (3650 days, in ms)'],
        [21, 29, 'queues.audit.arguments.x-expires: x-expires must be an integer from 1 to 315360000000'],
        [23, 48, 'queues.weighted.bindings.0.routingKey: a binding to an x-consistent-hash exchange takes a weight as its key'],
        [25, 60, 'queues.filtered.bindings.0.arguments.x-match: x-match must be one of all, any, all-with-x, any-with-x'],
        [28, 42, 'queues.parked.arguments.x-dead-letter-strategy: at-least-once dead-lettering needs overflow reject-publish'],
        [28, 71, 'queues.parked.arguments.x-queue-type: set the queue type with `type: classic|quorum`'],
        [31, 42, 'consumers.inventory.source.pattern: a binding to an x-consistent-hash exchange takes a weight as its key'],
      ],
    ],
  ] as const)('%s', (name, expected) => {
    const issues = issuesOf(name);
    expect(issues.map((i) => [i.line, i.col])).toEqual(expected.map(([line, col]) => [line, col]));
    issues.forEach((issue, index) => expect(issue.message).toContain(expected[index]?.[2]));
  });

  it('counts UTF-8 bytes, not characters: 127 two-byte characters fit, 128 do not', () => {
    const file = (key: string) => `exchanges:\n  e: { type: topic }\njobs:\n  j: { exchange: e, routingKey: ${key} }\n`;
    expect(parseTopology(file('é'.repeat(127)), 'k.yaml').ok).toBe(true);
    const result = parseTopology(file('é'.repeat(128)), 'k.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.message).toContain('routing key is 256 bytes');
  });

  it('takes names of exactly 255 bytes, derived ones included', () => {
    const consumer = 'c'.repeat(255 - '.retry.1s'.length);
    const result = parseTopology(`exchanges:\n  e: { type: topic }\nconsumers:\n  ${consumer}: { source: { exchange: e }, retry: { delays: [1s] } }\n`, 'ok.yaml');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.value.plan.queues.map((q) => Buffer.byteLength(q.name))).toContain(255);
  });

  it('allows binding to and publishing through the built-in amq.* exchanges', () => {
    const text = 'jobs:\n  j: { exchange: amq.topic }\nqueues:\n  audit: { bindings: [{ exchange: amq.headers, arguments: { x-match: any, kind: a } }] }\n';
    expect(parseTopology(text, 'amq.yaml').ok).toBe(true);
  });

  it('refuses a retry delay longer than RabbitMQ takes as a queue TTL', () => {
    const result = parseTopology('exchanges:\n  e: { type: topic }\nconsumers:\n  c:\n    source: { exchange: e }\n    retry: { delays: [1s, 3651d] }\n', 'd.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]).toMatchObject({ line: 6, col: 27, message: expect.stringContaining("3651d is longer than RabbitMQ's limit of 3650d") });
  });
});

describe('queue types: quorum by default, classic by explicit choice', () => {
  function planOf(text: string) {
    const result = parseTopology(text, 'types.yaml');
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    return result.value.plan;
  }
  const typeOf = (plan: ReturnType<typeof planOf>, name: string) => plan.queues.find((q) => q.name === name)?.type;
  const head = 'exchanges:\n  e: { type: topic }\n';

  it('work queue, retry tiers and DLQ are quorum when nothing is said', () => {
    const plan = planOf(`${head}queues:\n  plain: {}\nconsumers:\n  c: { source: { exchange: e }, retry: { delays: [1s] } }\n  s: { source: { exchange: e }, shards: 2 }\n`);
    for (const name of ['plain', 'plain.dlq', 'c', 'c.retry.1s', 'c.dlq', 's.shard.0', 's.shard.1', 's.dlq']) expect(typeOf(plan, name), name).toBe('quorum');
    expect(plan.consumers.map((c) => c.queueType)).toEqual(['quorum', 'quorum']);
    for (const queue of plan.queues) expect(queue.arguments['x-queue-leader-locator'], queue.name).toBe('balanced');
  });

  it('a quorum retry tier dead-letters at-least-once (reject-publish, no length limit); a classic one cannot', () => {
    const plan = planOf(`${head}consumers:\n  q: { source: { exchange: e }, retry: { delays: [1s] } }\n  c: { source: { exchange: e }, queueOptions: { type: classic }, retry: { delays: [1s] } }\n`);
    expect(plan.queues.find((q) => q.name === 'q.retry.1s')?.arguments).toEqual({
      'x-queue-type': 'quorum',
      'x-queue-leader-locator': 'balanced',
      'x-message-ttl': 1000,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'q',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    expect(plan.queues.find((q) => q.name === 'c.retry.1s')?.arguments).toEqual({
      'x-queue-master-locator': 'min-masters',
      'x-message-ttl': 1000,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'c',
    });
  });

  it('a classic consumer gets classic derived queues; each can be chosen on its own', () => {
    const plan = planOf(
      `${head}consumers:\n` +
        '  a: { source: { exchange: e }, queueOptions: { type: classic }, retry: { delays: [1s] } }\n' +
        '  b: { source: { exchange: e }, retry: { delays: [1s], queueType: classic }, deadLetter: { queueType: classic } }\n' +
        '  c: { source: { exchange: e }, queueOptions: { type: classic }, retry: { delays: [1s], queueType: quorum }, deadLetter: { queueType: quorum } }\n',
    );
    expect([typeOf(plan, 'a'), typeOf(plan, 'a.retry.1s'), typeOf(plan, 'a.dlq')]).toEqual(['classic', 'classic', 'classic']);
    expect([typeOf(plan, 'b'), typeOf(plan, 'b.retry.1s'), typeOf(plan, 'b.dlq')]).toEqual(['quorum', 'classic', 'classic']);
    expect([typeOf(plan, 'c'), typeOf(plan, 'c.retry.1s'), typeOf(plan, 'c.dlq')]).toEqual(['classic', 'quorum', 'quorum']);
  });

  it('leaderLocator: client-local per type, broker-default sends nothing, and derived queues follow the consumer', () => {
    const plan = planOf(
      `${head}queues:\n  a: { leaderLocator: client-local }\n  b: { type: classic, leaderLocator: client-local }\n` +
        'consumers:\n  c: { source: { exchange: e }, queueOptions: { leaderLocator: broker-default }, retry: { delays: [1s] } }\n',
    );
    expect(plan.queues.find((q) => q.name === 'a')?.arguments['x-queue-leader-locator']).toBe('client-local');
    expect(plan.queues.find((q) => q.name === 'b')?.arguments).toEqual({ 'x-queue-master-locator': 'client-local' });
    for (const name of ['c', 'c.retry.1s', 'c.dlq']) {
      const args = plan.queues.find((q) => q.name === name)?.arguments ?? {};
      expect(Object.keys(args).filter((k) => k.includes('locator')), name).toEqual([]);
    }
  });

  it('quorum queues cannot be non-durable or auto-delete; classic ones can', () => {
    const result = parseTopology('queues:\n  q: { durable: false, autoDelete: true }\n  c: { type: classic, durable: false, autoDelete: true }\n', 'q.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues.map((i) => [i.line, i.col, i.message.split(':')[0]])).toEqual([
        [2, 17, 'queues.q.durable'],
        [2, 36, 'queues.q.autoDelete'],
      ]);
    }
  });
});
