import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { EventType } from './event-types.ts';

export const EventAccepted = z.object({
  id: z.string(),
  eventType: z.string(),
  stream: z.string(),
  partition: z.number().int().describe('stableHash(key) mod partitions: FNV-1a 32-bit of the key\'s UTF-8 bytes'),
  key: z.string(),
});

/** One `POST /v1/events/<type>` path per event type, its payload schema as the body. */
export function registerEventTypes(
  registry: OpenAPIRegistry,
  eventTypes: Iterable<EventType>,
  security: Record<string, string[]>[],
  errors: Record<number, ResponseConfig>,
): void {
  const headers = z.object({ 'idempotency-key': z.string().min(1).max(200).optional(), 'x-correlation-id': z.string().min(1).max(200).optional() });
  for (const eventType of eventTypes) {
    registry.registerPath({
      method: 'post',
      path: `/v1/events/${eventType.type}`,
      summary: `Publish one ${eventType.type} event to stream ${eventType.stream} (partition picked by ${eventType.key})`,
      ...(eventType.description !== undefined && { description: eventType.description }),
      security,
      request: { headers, body: { required: true, content: { 'application/json': { schema: eventType.asJob.validator } } } },
      responses: {
        202: { description: 'Confirmed by the broker: stored in the partition', content: { 'application/json': { schema: EventAccepted } } },
        ...errors,
      },
    });
  }
}
