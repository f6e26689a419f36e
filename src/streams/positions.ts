import type { StreamConnection, StreamRecord, StreamSubscription } from '../broker/stream-consumer.ts';

/**
 * Where things are in a stream partition, read by subscribing (3.10 has no
 * AMQP call for a stream's end offset, and the management API's `messages`
 * is the retained span, not the end). A subscription at `last` gets the last
 * chunk within a few hundred ms; one at a timestamp starts at the chunk
 * holding it.
 */

/** Reads deliveries until `quietMs` pass without one (or `maxMs` in all); returns them. */
async function readUntilQuiet(connection: StreamConnection, queue: string, start: Parameters<StreamConnection['subscribe']>[0]['start'], stop: (record: StreamRecord) => boolean, quietMs: number, maxMs: number): Promise<StreamRecord[]> {
  const records: StreamRecord[] = [];
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let quiet = setTimeout(() => finish(), quietMs);
  const overall = setTimeout(() => finish(), maxMs);
  let pendingAck: StreamRecord | undefined;
  // Deliveries can arrive before `subscribe` resolves: ack those once it has.
  let subscription: StreamSubscription | undefined;
  subscription = await connection.subscribe({
    queue,
    start,
    prefetch: 1_000,
    onRecord: (record) => {
      records.push(record);
      if (subscription === undefined) pendingAck = record;
        else subscription.ackUpTo(record);
      clearTimeout(quiet);
      if (stop(record)) finish();
      else quiet = setTimeout(() => finish(), quietMs);
    },
    onLost: () => finish(),
  });
  if (pendingAck !== undefined) subscription.ackUpTo(pendingAck);
  await done;
  clearTimeout(quiet);
  clearTimeout(overall);
  await subscription.cancel();
  return records;
}

/** The offset of the last record of a partition, or undefined when it holds none. */
export async function endOffset(connection: StreamConnection, queue: string, quietMs = 700): Promise<number | undefined> {
  const records = await readUntilQuiet(connection, queue, 'last', () => false, quietMs, 10_000);
  return records.length === 0 ? undefined : Math.max(...records.map((r) => r.offset));
}

/** The offset of the first retained record of a partition, or undefined when it holds none. */
export async function firstOffset(connection: StreamConnection, queue: string, quietMs = 700): Promise<number | undefined> {
  const records = await readUntilQuiet(connection, queue, 'first', () => true, quietMs, 10_000);
  return records[0]?.offset;
}

/**
 * The first record published at or after `at`, or undefined when none is.
 * Timestamps are whole seconds (the AMQP property), so records of `at`'s
 * second count as at or after it: a replay re-reads a little more, never less.
 * The broker starts at the chunk holding the time; the chunk's earlier
 * records are skipped here by their timestamp.
 */
export async function offsetAtTime(connection: StreamConnection, queue: string, at: Date, quietMs = 700): Promise<{ offset: number; timestamp: Date | undefined } | undefined> {
  const seconds = Math.floor(at.getTime() / 1000);
  const atOrAfter = (record: StreamRecord) => record.timestamp === undefined || record.timestamp.getTime() >= seconds * 1000;
  const records = await readUntilQuiet(connection, queue, { timestampSeconds: seconds }, atOrAfter, quietMs, 30_000);
  const found = records.find(atOrAfter);
  return found === undefined ? undefined : { offset: found.offset, timestamp: found.timestamp };
}
