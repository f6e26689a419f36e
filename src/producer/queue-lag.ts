import { encodeVhost, type ManagementClient } from '../broker/management.ts';
import { groupDeadLetterQueueOf } from '../streams/group-dlq.ts';
import type { TopologyPlan } from '../topology/plan.ts';

/** One queue of the topology as `GET /v1/queues` shows it: the consumer lag view. */
export interface QueueLag {
  name: string;
  /** False when the topology names the queue but the broker does not have it (not applied yet). */
  exists: boolean;
  messagesReady: number;
  messagesUnacked: number;
  consumers: number;
  /** Messages per second, when the management API has sampled them. */
  publishRate: number | null;
  ackRate: number | null;
  deliverRate: number | null;
  /**
   * The `timestamp` property (seconds) of the message at the head of the
   * queue, as the management API reports it: classic queues only on
   * RabbitMQ 3.10 (quorum queues do not report it), and only when the head
   * message has a timestamp (warren's jobs do). `null` when not told.
   */
  headMessageTimestamp: number | null;
}

interface ManagementQueue {
  name: string;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  head_message_timestamp?: number | null;
  message_stats?: {
    publish_details?: { rate?: number };
    ack_details?: { rate?: number };
    deliver_get_details?: { rate?: number };
  };
}

const COLUMNS = 'name,messages_ready,messages_unacknowledged,consumers,message_stats,head_message_timestamp';

/** Reads every queue of the vhost in one management call and keeps the topology's, in plan order. */
export async function queueLag(management: ManagementClient, plan: TopologyPlan, vhost: string): Promise<QueueLag[]> {
  const live = (await management.get<ManagementQueue[]>(`/queues/${encodeVhost(vhost)}?columns=${COLUMNS}`)) ?? [];
  const byName = new Map(live.map((queue) => [queue.name, queue]));
  const planned = new Set(plan.queues.map((queue) => queue.name));
  // Consumer groups declare their DLQs themselves: listed once they exist, so the console can show and replay them.
  const groupDlqs = live.filter((queue) => !planned.has(queue.name) && groupDeadLetterQueueOf(plan.streams, queue.name)?.kind === 'group');
  return [...plan.queues.map((queue) => toLag(queue.name, byName.get(queue.name))), ...groupDlqs.map((queue) => toLag(queue.name, queue))];
}

/** Pure: a management API queue (or its absence) → the lag row. */
export function toLag(name: string, queue: ManagementQueue | undefined): QueueLag {
  const stats = queue?.message_stats;
  return {
    name,
    exists: queue !== undefined,
    messagesReady: queue?.messages_ready ?? 0,
    messagesUnacked: queue?.messages_unacknowledged ?? 0,
    consumers: queue?.consumers ?? 0,
    publishRate: stats?.publish_details?.rate ?? null,
    ackRate: stats?.ack_details?.rate ?? null,
    deliverRate: stats?.deliver_get_details?.rate ?? null,
    headMessageTimestamp: typeof queue?.head_message_timestamp === 'number' ? queue.head_message_timestamp : null,
  };
}
