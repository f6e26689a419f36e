import type { HistoryRecorder } from '../history/recorder.ts';
import type { JobEventKind } from '../history/records.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { jobIdOf } from '../worker/steps/settle.ts';
import type { HeldMessage } from './broker.ts';

/** Where a replay or purge records what it did to each job (job history on). */
export interface DlqHistory {
  recorder: HistoryRecorder;
  /** The consumer whose DLQ it is (from the topology; else the name before `.dlq`). */
  consumer: string | null;
}

/** The consumer a DLQ belongs to: the topology's answer, else the queue name without `.dlq`. */
export function consumerOfDeadLetterQueue(plan: TopologyPlan | undefined, queue: string): string | null {
  const consumer = plan?.consumers.find((c) => c.deadLetter.queue === queue)?.name;
  if (consumer !== undefined) return consumer;
  return queue.endsWith('.dlq') && queue.length > 4 ? queue.slice(0, -4) : null;
}

/** The history's history of a pass: undefined when history is off. */
export function dlqHistory(recorder: HistoryRecorder | undefined, plan: TopologyPlan | undefined, queue: string): DlqHistory | undefined {
  return recorder === undefined ? undefined : { recorder, consumer: consumerOfDeadLetterQueue(plan, queue) };
}

/** One replayed or purged dead letter, as an event of its job. */
export function recordDeadLetterEvent(history: DlqHistory | undefined, kind: JobEventKind, queue: string, message: Pick<HeldMessage, 'properties' | 'content'>, atMs = Date.now()): void {
  if (history === undefined) return;
  const id: unknown = message.properties.messageId;
  const type: unknown = message.properties.type;
  history.recorder.event({
    jobId: jobIdOf({ properties: { messageId: typeof id === 'string' ? id : undefined }, content: message.content }),
    jobType: typeof type === 'string' ? type : null,
    kind,
    consumer: history.consumer,
    queue,
    atMs,
  });
}
