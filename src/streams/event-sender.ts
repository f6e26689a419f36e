import { randomUUID } from 'node:crypto';
import { checkHeaders, checkToken } from '../client/prepare.ts';
import type { JobPublisher } from '../client/sender.ts';
import type { EnqueueOptions } from '../client/types.ts';
import { eventTypeOf, prepareEvent, type EventType } from './event-types.ts';

/** What `publishEvent` resolves with, once the broker confirmed the event as stored in its partition. */
export interface PublishedEvent {
  id: string;
  eventType: string;
  stream: string;
  partition: number;
  key: string;
}

/** An enqueue's id and header options (no delays or priorities on a log): the idempotency key becomes the message id. */
export type PublishEventOptions = Pick<EnqueueOptions, 'idempotencyKey' | 'correlationId' | 'headers'>;

/**
 * Publish events on a publisher someone else owns (the job client's, the
 * producer's): validate, pick the partition, publish with confirms +
 * mandatory. A stream queue confirms once the record is stored, so a
 * resolved publish is in the log.
 */
export class EventSender {
  constructor(
    readonly eventTypes: ReadonlyMap<string, EventType>,
    private readonly publisher: JobPublisher,
    private readonly now: () => Date = () => new Date(),
  ) {}

  eventType(name: string): EventType {
    return eventTypeOf(this.eventTypes, name);
  }

  async publish(eventTypeName: string, payload: unknown, options: PublishEventOptions = {}): Promise<PublishedEvent> {
    const eventType = this.eventType(eventTypeName);
    const key = checkToken('idempotencyKey', options.idempotencyKey);
    const correlationId = checkToken('correlationId', options.correlationId);
    const headers = checkHeaders(options.headers);
    const id = key ?? randomUUID();
    const prepared = prepareEvent(eventType, { payload, id, correlationId, headers, now: this.now() });
    await this.publisher.publish(prepared.message);
    return { id, eventType: eventType.type, stream: eventType.stream, partition: prepared.partition, key: prepared.key };
  }
}
