import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import type { JobAcceptedRecord } from './records.ts';
import type { HistoryRecorder } from './recorder.ts';
import { traceIdOfHeaders } from './trace-id.ts';

/**
 * Pure: the history row of a job the broker just confirmed, from the very
 * message that was published (its id, type, correlation id, body and the
 * `traceparent` header the tracing side put on it).
 */
export function acceptedRecord(message: OutgoingMessage, options: { acceptedAtMs: number; recordPayload: boolean; payloadMaxBytes: number; submittedBy: string | undefined }): JobAcceptedRecord {
  const props = message.options;
  const size = message.content.length;
  return {
    id: String(props.messageId ?? ''),
    jobType: String(props.type ?? ''),
    acceptedAtMs: options.acceptedAtMs,
    correlationId: typeof props.correlationId === 'string' ? props.correlationId : null,
    payloadSize: size,
    payload: options.recordPayload && size <= options.payloadMaxBytes ? message.content.toString('utf8') : null,
    traceId: traceIdOfHeaders(props.headers as Record<string, unknown> | undefined),
    submittedBy: options.submittedBy ?? null,
  };
}

/**
 * Records a confirmed job; a no-op without a recorder. `publishedAt` is
 * when it was published (its `x-warren-first-seen-at`), not when the
 * confirm came back: a consumer may start on it before that.
 */
export function recordAccepted(recorder: HistoryRecorder | undefined, message: OutgoingMessage, publishedAt: Date, submittedBy?: string): void {
  if (recorder === undefined) return;
  recorder.jobAccepted(acceptedRecord(message, { acceptedAtMs: publishedAt.getTime(), recordPayload: recorder.recordPayload, payloadMaxBytes: recorder.payloadMaxBytes, submittedBy }));
}
