import { connect, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DlqBroker } from '../../src/dlq/broker.ts';
import { parseSelection } from '../../src/dlq/filter.ts';
import { listDeadLetters } from '../../src/dlq/inspect.ts';
import { purgeDeadLetters } from '../../src/dlq/purge.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { depth, peekIds } from './dlq-fixtures.ts';

// A quorum DLQ (the DLQ of a quorum consumer) is inspected without changing
// its order: held messages go back with one nack(all), which a quorum queue
// honours in order (a bare channel close scrambles them).
describe('a quorum DLQ', () => {
  let vhost: TestVhost;
  let connection: ChannelModel;
  const ids = Array.from({ length: 30 }, (_, i) => `q-${i}`);

  beforeAll(async () => {
    vhost = await createTestVhost('dlq-quorum');
    connection = await connect(vhost.url);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('ledger.dlq', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    for (const id of ids) channel.sendToQueue('ledger.dlq', Buffer.from(JSON.stringify({ id })), { messageId: id, persistent: true, type: i(id) % 2 ? 'odd' : 'even' });
    await channel.waitForConfirms();
    await channel.close();
  });
  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await vhost?.cleanup();
  });

  it('keeps its order and count through repeated listings and a filtered purge dry run', async () => {
    const broker = await DlqBroker.open([vhost.url], { queueTypes: new Map([['ledger.dlq', 'quorum']]) });
    try {
      for (let pass = 0; pass < 3; pass++) {
        const listing = await listDeadLetters(broker, 'ledger.dlq', { limit: 100 });
        expect(listing.count, `pass ${pass}`).toBe(30);
        expect(listing.messages.map((m) => m.id), `pass ${pass}`).toEqual(ids);
      }
      const dry = await purgeDeadLetters(broker, 'ledger.dlq', { selection: parseSelection({ filters: ['jobType=odd'] }), dryRun: true });
      expect(dry).toMatchObject({ purged: 15, kept: 15 });
    } finally {
      await broker.close();
    }
    expect(await depth(connection, 'ledger.dlq')).toBe(30);
    expect(await peekIds(connection, 'ledger.dlq')).toEqual(ids);
  });
});

function i(id: string): number {
  return Number(id.slice(2));
}
