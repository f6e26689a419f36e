import { randomUUID } from 'node:crypto';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { batchItemId } from './job-message.ts';
import { orderingKeyOf, type JobType } from './job-types.ts';
import { Semaphore } from '../worker/semaphore.ts';
import { recordAccepted } from '../history/accepted.ts';
import type { HistoryRecorder } from '../history/recorder.ts';
import { amqpHeaderGetter, type HeaderCarrier } from '../tracing/carrier.ts';
import { continueFrom, publishTraced } from '../tracing/spans.ts';
import { PrecedingJobFailedError, UnknownJobTypeError } from './errors.ts';
import { checkHeaders, checkToken, prepareJob, type JobHeaderValue } from './prepare.ts';
import { applyTiming, checkPriority, checkTiming } from './timing.ts';
import type { EnqueuedJob, EnqueueManyItem, EnqueueManyOptions, EnqueueManyResult, EnqueueOptions } from './types.ts';

/** What the sender publishes through: a `ConfirmPublisher`, or one wrapped (e.g. timed for metrics). */
export interface JobPublisher {
  /** Resolves once the broker confirmed the message as persisted and routed. */
  publish(message: OutgoingMessage): Promise<void>;
  /** Why a publish would fail at once right now (no connection, blocked, in-flight limit). */
  unavailable(): Error | undefined;
}

export interface JobSenderOptions {
  /** Publishes of one `enqueueMany` call awaiting their confirm at once. @defaultValue 1000 */
  batchWindow?: number;
  /** @defaultValue `() => new Date()` */
  now?: () => Date;
  /** Job history: each confirmed job is recorded. @defaultValue none (history off) */
  history?: HistoryRecorder | undefined;
}

/** Who sends, for the job history (the HTTP routes know; the job client does not). */
export interface SendContext {
  /** Fingerprint of the API token that enqueued the job. */
  submittedBy?: string | undefined;
}

/**
 * Enqueue on a publisher someone else owns: validate, build the message,
 * publish with confirms. The job client and the HTTP producer's enqueue
 * routes are both thin layers over this, so one input gets one answer.
 */
export class JobSender {
  private readonly window: number;
  private readonly now: () => Date;
  private readonly history: HistoryRecorder | undefined;
  private readonly publish: (message: OutgoingMessage) => Promise<void>;

  constructor(
    readonly jobTypes: ReadonlyMap<string, JobType>,
    private readonly publisher: JobPublisher,
    options: JobSenderOptions = {},
  ) {
    this.window = options.batchWindow ?? 1_000;
    this.now = options.now ?? (() => new Date());
    this.history = options.history;
    this.publish = (message) => this.publisher.publish(message);
  }

  /** True when confirmed jobs are recorded in the job history (callers then say who sends: `SendContext`). */
  get recordsHistory(): boolean {
    return this.history !== undefined;
  }

  /** The job type, or `UnknownJobTypeError`. */
  jobType(name: string): JobType {
    const jobType = this.jobTypes.get(name);
    if (jobType === undefined) throw new UnknownJobTypeError(name, [...this.jobTypes.keys()]);
    return jobType;
  }

  async enqueue(jobTypeName: string, payload: unknown, options: EnqueueOptions = {}, context?: SendContext): Promise<EnqueuedJob> {
    const jobType = this.jobType(jobTypeName);
    const key = checkToken('idempotencyKey', options.idempotencyKey);
    const correlationId = checkToken('correlationId', options.correlationId);
    const headers = checkHeaders(options.headers);
    const now = this.now();
    const timing = checkTiming(jobType, options.delay, options.runAt, now);
    const priority = checkPriority(jobType, options.priority);
    const id = key ?? randomUUID();
    const { message } = prepareJob(jobType, { payload, id, correlationId, headers, now });
    applyTiming(message, timing, priority);
    // One PRODUCER span per job, child of the caller's active span (or of a
    // `traceparent` the caller put in `headers`); its context goes into the
    // message headers. A no-op without an OpenTelemetry SDK.
    await publishTraced(this.publish, message, continueFrom(message.options.headers as HeaderCarrier, amqpHeaderGetter));
    // After the publish: the history keeps the trace id of the traceparent just written.
    recordAccepted(this.history, message, now, context?.submittedBy);
    return { id, jobType: jobType.type, routingKey: jobType.routingKey, ...(timing !== undefined && { runAt: timing.runAt.toISOString() }) };
  }

  /**
   * Validates every item, then publishes the valid ones pipelined (up to
   * `batchWindow` awaiting their confirm at once). Items sharing an ordering
   * key go one after the other, each once the previous one is confirmed, so
   * a batch never reorders a key; after a failure the later items of that
   * key are not sent (`PrecedingJobFailedError`). Throws, sending nothing,
   * for an unknown job type, a bad option or a broker that cannot take a
   * publish right now; per-item failures are in the results.
   */
  async enqueueMany(
    jobTypeName: string,
    payloads: readonly unknown[],
    options: EnqueueManyOptions<unknown> = {},
    context?: SendContext,
  ): Promise<EnqueueManyResult> {
    const jobType = this.jobType(jobTypeName);
    const correlationId = checkToken('correlationId', options.correlationId);
    const headers = checkHeaders(options.headers);
    const batchKey = typeof options.idempotencyKey === 'function' ? undefined : checkToken('idempotencyKey', options.idempotencyKey);
    const now = this.now();
    // One due time and priority for the whole batch, checked before anything is sent.
    const timing = checkTiming(jobType, options.delay, options.runAt, now);
    const priority = checkPriority(jobType, options.priority);
    if (payloads.length === 0) return { accepted: 0, results: [] };
    const unavailable = this.publisher.unavailable();
    if (unavailable !== undefined) throw unavailable;

    const parent = continueFrom((headers ?? NO_HEADERS) as HeaderCarrier, amqpHeaderGetter);
    const window = new Semaphore(Math.max(1, Math.min(this.window, payloads.length)));
    /** The last item seen for each ordering key: whether it was accepted, once known. */
    const lastOfKey = new Map<string, { index: number; accepted: Promise<boolean> }>();
    const results = payloads.map((payload, index): Promise<EnqueueManyItem> => {
      let id: string | undefined;
      let message: OutgoingMessage | undefined;
      let failure: Error | undefined;
      try {
        id = this.itemId(options.idempotencyKey, batchKey, payload, index);
        message = applyTiming(prepareJob(jobType, { payload, id, correlationId, headers, now }).message, timing, priority);
      } catch (error) {
        failure = error as Error;
      }
      const key = orderingKeyOrUndefined(jobType, payload);
      const previous = key === undefined ? undefined : lastOfKey.get(key);
      const result = (async (): Promise<EnqueueManyItem> => {
        if (failure !== undefined || message === undefined) return { index, id, ok: false, error: failure ?? new Error('not prepared') };
        if (previous !== undefined && !(await previous.accepted)) {
          return { index, id, ok: false, error: new PrecedingJobFailedError(key ?? '', previous.index) };
        }
        const ready = message;
        try {
          await window.run(() => publishTraced(this.publish, ready, parent));
          recordAccepted(this.history, ready, now, context?.submittedBy);
          return { index, id: ready.options.messageId, ok: true };
        } catch (error) {
          return { index, id, ok: false, error: error as Error };
        }
      })();
      if (key !== undefined) lastOfKey.set(key, { index, accepted: result.then((item) => item.ok) });
      return result;
    });
    const settled = await Promise.all(results);
    return { accepted: settled.filter((item) => item.ok).length, results: settled };
  }

  private itemId(
    option: EnqueueManyOptions<unknown>['idempotencyKey'],
    batchKey: string | undefined,
    payload: unknown,
    index: number,
  ): string {
    if (typeof option === 'function') return checkToken('idempotencyKey', option(payload, index)) ?? randomUUID();
    return batchKey === undefined ? randomUUID() : batchItemId(batchKey, index);
  }
}

const NO_HEADERS: Readonly<Record<string, JobHeaderValue>> = Object.freeze({});

/** The ordering key when the payload has a usable one, else `undefined` (never throws). */
function orderingKeyOrUndefined(jobType: JobType, payload: unknown): string | undefined {
  try {
    return orderingKeyOf(jobType, payload);
  } catch {
    return undefined;
  }
}

export type { JobHeaderValue };
