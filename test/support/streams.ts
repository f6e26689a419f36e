import { StreamConnection, type StreamRecord, type StreamSubscription } from '../../src/broker/stream-consumer.ts';

/** Reads every record of a stream queue from `first` until `count` arrived (or the timeout), for assertions. */
export async function readStream(url: string, queue: string, count: number, timeoutMs = 15_000): Promise<StreamRecord[]> {
  const connection = await StreamConnection.open([url], 'test-stream-reader');
  const records: StreamRecord[] = [];
  try {
    let done: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => {
      done = resolve;
    });
    let pendingAck: StreamRecord | undefined;
    // Deliveries can arrive before `subscribe` resolves: ack those once it has.
    let subscription: StreamSubscription | undefined;
    subscription = await connection.subscribe({
      queue,
      start: 'first',
      prefetch: 500,
      onRecord: (record) => {
        records.push(record);
        if (subscription === undefined) pendingAck = record;
        else subscription.ackUpTo(record);
        if (records.length >= count) done();
      },
      onLost: () => done(),
    });
    if (pendingAck !== undefined) subscription.ackUpTo(pendingAck);
    if (count === 0) done();
    await Promise.race([enough, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    await subscription.cancel();
  } finally {
    await connection.close();
  }
  return records;
}
