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

const PartitionStatus = z.object({
  partition: z.number().int(),
  owner: z.string().nullable(),
  generation: z.number().int(),
  committed: z.number().int().nullable().describe('Offset of the last record the group applied; -1 = reset to before everything'),
  end: z.number().int().optional().describe('Offset of the partition\'s last record (absent when empty)'),
  lag: z.number().int().nullable().describe('end − committed (an upper bound in records: offsets are not dense)'),
});

export const StreamList = z.object({
  streams: z.array(
    z.object({
      stream: z.string(),
      partitions: z.number().int(),
      ends: z.array(z.number().int().nullable()),
      groups: z
        .array(z.object({ group: z.string(), members: z.number().int(), lag: z.number().int().nullable(), partitions: z.array(PartitionStatus) }))
        .nullable()
        .describe('null when the server has no DATABASE_URL'),
    }),
  ),
});

/** `GET /v1/streams`, registered only when the topology has streams (as the route is). */
export function registerStreamsRoute(registry: OpenAPIRegistry, security: Record<string, string[]>[], errors: Record<number, ResponseConfig>): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/streams',
    summary: 'Per stream: partition end offsets; per consumer group: members, owners, committed offsets and lag; admin scope',
    security,
    responses: { 200: { description: 'Every stream of the topology', content: { 'application/json': { schema: StreamList } } }, ...errors },
  });
}
