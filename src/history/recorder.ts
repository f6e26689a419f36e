import type { AttemptRecord, JobAcceptedRecord, JobEventRecord } from './records.ts';
import type { HistoryWriter } from './writer.ts';

/**
 * What the producer, the job client, the workers and DLQ replay/purge call
 * when history is on. Each call queues one row and returns at once; none
 * waits for the database or throws. When history is off there is no
 * recorder at all (callers hold `undefined` and build no record).
 */
export interface HistoryRecorder {
  /** Record the job's payload with its acceptance (the `WARREN_HISTORY_PAYLOAD` setting). */
  readonly recordPayload: boolean;
  /** Payloads larger than this are not recorded (their size still is). */
  readonly payloadMaxBytes: number;
  jobAccepted(record: JobAcceptedRecord): void;
  attempt(record: AttemptRecord): void;
  event(record: JobEventRecord): void;
}

/** The recorder over a batched writer. */
export class WriterRecorder implements HistoryRecorder {
  constructor(
    private readonly writer: HistoryWriter,
    readonly recordPayload: boolean,
    readonly payloadMaxBytes: number,
  ) {}

  jobAccepted(row: JobAcceptedRecord): void {
    this.writer.record({ table: 'jobs', row });
  }

  attempt(row: AttemptRecord): void {
    this.writer.record({ table: 'attempts', row });
  }

  event(row: JobEventRecord): void {
    this.writer.record({ table: 'events', row });
  }
}
