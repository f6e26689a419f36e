import type { Attributes } from '@opentelemetry/api';

/**
 * Pure: span attributes after the OpenTelemetry messaging semantic
 * conventions (messaging.*, RabbitMQ's messaging.rabbitmq.*) plus warren's
 * own (warren.*). Only called for a span that records: without an SDK
 * nothing here runs.
 */

export const ATTR = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  subscription: 'messaging.destination.subscription.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  routingKey: 'messaging.rabbitmq.destination.routing_key',
  errorType: 'error.type',
  jobType: 'warren.job.type',
  attempt: 'warren.attempt',
  consumer: 'warren.consumer',
  outcome: 'warren.outcome',
  deadLetterReason: 'warren.dead_letter.reason',
  replays: 'warren.replays',
} as const;

export interface PublishSpanInput {
  exchange: string;
  routingKey: string;
  messageId: string;
  jobType: string | undefined;
  correlationId?: string | undefined;
  bodySize: number;
}

/** A PRODUCER span's attributes: a job published to an exchange (the enqueue, a DLQ replay). */
export function publishAttributes(input: PublishSpanInput): Attributes {
  const attributes: Attributes = {
    [ATTR.system]: 'rabbitmq',
    [ATTR.operationType]: 'publish',
    [ATTR.operationName]: 'publish',
    [ATTR.destination]: input.exchange,
    [ATTR.messageId]: input.messageId,
    [ATTR.bodySize]: input.bodySize,
  };
  if (input.routingKey !== '') attributes[ATTR.routingKey] = input.routingKey;
  if (input.jobType !== undefined) attributes[ATTR.jobType] = input.jobType;
  if (input.correlationId !== undefined) attributes[ATTR.conversationId] = input.correlationId;
  return attributes;
}

export interface ProcessSpanInput {
  consumer: string;
  queue: string | undefined;
  exchange: string;
  routingKey: string;
  messageId: string;
  jobType: string | undefined;
  correlationId: string | undefined;
  attempt: number;
  bodySize: number;
}

/** A CONSUMER span's attributes: one handler run of one consumer. */
export function processAttributes(input: ProcessSpanInput): Attributes {
  const attributes: Attributes = {
    [ATTR.system]: 'rabbitmq',
    [ATTR.operationType]: 'process',
    [ATTR.operationName]: 'process',
    [ATTR.destination]: input.exchange,
    [ATTR.messageId]: input.messageId,
    [ATTR.bodySize]: input.bodySize,
    [ATTR.consumer]: input.consumer,
    [ATTR.attempt]: input.attempt,
  };
  if (input.queue !== undefined) attributes[ATTR.subscription] = input.queue;
  if (input.routingKey !== '') attributes[ATTR.routingKey] = input.routingKey;
  if (input.jobType !== undefined) attributes[ATTR.jobType] = input.jobType;
  if (input.correlationId !== undefined) attributes[ATTR.conversationId] = input.correlationId;
  return attributes;
}

/** Span names: `<operation> <destination>`, low-cardinality (an exchange, a consumer), never a job id. */
export function publishSpanName(exchange: string): string {
  return `publish ${exchange === '' ? '(default)' : exchange}`;
}

export function processSpanName(consumer: string): string {
  return `process ${consumer}`;
}

/** The error class an `error.type` attribute names. */
export function errorType(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor.name;
  return '_OTHER';
}
