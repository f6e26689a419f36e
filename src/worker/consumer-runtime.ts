import { setMaxListeners } from 'node:events';
import type { BackoffOptions } from '../broker/backoff.ts';
import { ConsumerChannel, type Delivery, type SubscriptionStatus } from '../broker/consumer-channel.ts';
import type { BrokerConnection } from '../broker/connection.ts';
import type { HistoryRecorder } from '../history/recorder.ts';
import { boundedMessage } from '../history/records.ts';
import { traceIdOfHeaders } from '../history/trace-id.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import type { Logger } from '../log.ts';
import { attemptOf, HEADERS, type Headers } from '../message/headers.ts';
import type { AttemptRecord } from '../history/records.ts';
import type { JobType } from '../client/job-types.ts';
import type { ConsumerPlan } from '../topology/plan.ts';
import type { CopyPublisher, IncomingDelivery, JobSettledEvent, JobState } from './context.ts';
import type { WorkerDefinition } from './define.ts';
import { KeySerializer } from './key-serializer.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ConsumerSettings } from './options.ts';
import { composeSteps, type Step } from './pipeline.ts';
import { Semaphore } from './semaphore.ts';
import { decodeStep } from './steps/decode.ts';
import { dedupeStep } from './steps/dedupe.ts';
import { handleStep } from './steps/handle.ts';
import { BatchHandler } from './steps/handle-batch.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { rateLimitStep } from './steps/rate-limit.ts';
import { retryInPlaceStep } from './steps/retry-in-place.ts';
import { jobIdOf, settleStep } from './steps/settle.ts';
import { stopGateStep } from './steps/stop-gate.ts';
import { traceStep } from './steps/trace.ts';
import { validateStep } from './steps/validate.ts';

export interface ConsumerRuntimeDeps {
  definition: WorkerDefinition;
  plan: ConsumerPlan;
  /** The topology's job types: payloads are validated against their JSON Schemas. */
  jobTypes: ReadonlyMap<string, JobType>;
  settings: ConsumerSettings;
  store: IdempotencyStore;
  connection: BrokerConnection;
  publisher: CopyPublisher;
  workerId: string;
  metrics: WorkerMetrics;
  logger: Logger;
  claimPollMs: number;
  resubscribe: BackoffOptions;
  /** Told of every delivery's end (see `WorkerInit.onJobSettled`). */
  onJobSettled?: ((event: JobSettledEvent) => void) | undefined;
  /** Set when the consumer has a `rateLimit`: jobs wait for a slot before dedupe and the handler. */
  rateLimiter?: RateLimiter | undefined;
  /** Job history: one row per attempt. Undefined when history is off (nothing is built per job then). */
  history?: HistoryRecorder | undefined;
}

/**
 * One consumer of one worker process: its channel, its pipeline (folded
 * once, here), its concurrency limit and, for sharded consumers, per-key
 * serialization.
 */
export class ConsumerRuntime {
  private readonly semaphore: Semaphore;
  private readonly serializer = new KeySerializer();
  private readonly inFlight = new Set<Promise<void>>();
  /** Stop taking work: release what has not started, stop waiting. */
  private readonly stopping = new AbortController();
  /** The shutdown deadline passed: abort running handlers. */
  private readonly hardStop = new AbortController();
  private readonly pipeline: (ctx: JobState) => Promise<void>;
  private readonly channel: ConsumerChannel;
  private readonly ordered: boolean;
  /** This consumer's per-delivery counters, labelled once (prom-client hashes the labels on every call otherwise). */
  private readonly counters: { received: { inc(): void }; inFlight: { inc(): void; dec(): void } };
  private batchHandler: BatchHandler | undefined;

  constructor(private readonly deps: ConsumerRuntimeDeps) {
    // Every in-flight job listens on these two; prefetch bounds how many.
    setMaxListeners(0, this.stopping.signal, this.hardStop.signal);
    this.semaphore = new Semaphore(deps.settings.concurrency);
    this.ordered = deps.plan.shards !== undefined;
    this.pipeline = composeSteps(this.steps());
    const consumer = deps.plan.name;
    this.counters = { received: deps.metrics.received.labels({ consumer }), inFlight: deps.metrics.inFlight.labels({ consumer }) };
    for (const queue of deps.plan.queues) deps.metrics.subscribed.set({ consumer, queue }, 0);
    this.channel = new ConsumerChannel(
      deps.connection,
      { name: `warren-worker-${consumer}`, queues: deps.plan.queues, prefetch: deps.plan.prefetch, backoff: deps.resubscribe },
      {
        onDelivery: (delivery) => this.onDelivery(delivery),
        onSubscribed: ({ queue, again, downtimeMs }) => {
          deps.metrics.subscribed.set({ consumer, queue }, 1);
          if (!again) return;
          deps.metrics.resubscribed.inc({ consumer, queue });
          deps.logger.info({ consumer, queue, downtimeMs }, 'consumer subscribed again');
        },
        onLost: ({ queue, reason }) => {
          deps.metrics.subscribed.set({ consumer, queue }, 0);
          if (this.stopping.signal.aborted) return;
          deps.logger.warn({ consumer, queue, reason }, 'consumer not subscribed; re-subscribing with backoff');
        },
        onRetryFailed: ({ queue, reason, failures, retryInMs }) => {
          if (this.stopping.signal.aborted) return;
          deps.logger.warn({ consumer, queue, reason, failures, retryInMs }, 'consumer still not subscribed');
        },
      },
    );
  }

  get name(): string {
    return this.deps.plan.name;
  }

  /** Each of this consumer's queues: subscribed or not, and why not. */
  get subscriptions(): SubscriptionStatus[] {
    return this.channel.status;
  }

  async start(): Promise<void> {
    await this.channel.waitForConsuming();
  }

  /** Cancel, give in-flight jobs until the deadline, release the rest, close the channel. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping.abort();
    // Jobs gathered for a batch run now: none waits out maxWaitMs past the stop.
    this.batchHandler?.flush();
    await this.channel.cancel().catch(() => undefined);
    for (const queue of this.deps.plan.queues) this.deps.metrics.subscribed.set({ consumer: this.name, queue }, 0);
    const drained = await waitAll(this.inFlight, deadlineMs);
    if (!drained) {
      this.deps.logger.warn({ consumer: this.name, inFlight: this.inFlight.size }, 'shutdown deadline passed; releasing unfinished jobs');
      this.hardStop.abort();
      await waitAll(this.inFlight, 2_000);
    }
    await this.channel.close();
  }

  private steps(): Step<JobState>[] {
    const { definition, plan, settings, store, publisher, workerId, metrics } = this.deps;
    const settle = settleStep({ plan, publisher, workerId, isRetryable: settings.isRetryable });
    const dedupe = dedupeStep({ store, consumer: plan.name, leaseMs: settings.leaseMs, pollMs: this.deps.claimPollMs, signal: this.stopping.signal });
    const handle = handleStep({ definition, timeoutMs: settings.timeoutMs, hardStop: this.hardStop.signal });
    const steps = [traceStep({ consumer: plan.name }), settle, stopGateStep(this.stopping.signal), decodeStep, validateStep({ jobTypes: this.deps.jobTypes, schema: definition.schema })];
    if (this.ordered) {
      steps.push(
        retryInPlaceStep({
          retry: plan.retry,
          isRetryable: settings.isRetryable,
          signal: this.stopping.signal,
          onRetry: (ctx, error, delayMs) => {
            metrics.retried.inc({ consumer: plan.name });
            // The job never leaves this worker: the failed attempt is an exception event of the one span.
            if (ctx.span?.isRecording()) {
              ctx.span.recordException(error instanceof Error ? error : new Error(String(error)));
              ctx.span.addEvent('warren.retry_in_place', { 'warren.attempt': ctx.attempt, 'warren.retry.delay_ms': delayMs });
            }
            ctx.logger.info({ outcome: 'retry-in-place', delayMs, err: error }, 'job failed; retrying in place');
            if (this.deps.history !== undefined) {
              const now = Date.now();
              this.recordAttempt(this.deps.history, ctx, 'retried', error, now);
              // The next attempt starts once the backoff is over.
              ctx.attemptStartedAt = now + delayMs;
            }
          },
        }),
      );
    }
    if (this.deps.rateLimiter !== undefined) {
      steps.push(rateLimitStep({ limiter: this.deps.rateLimiter, signal: this.stopping.signal, retryMs: this.deps.claimPollMs }));
    }
    if (settings.batch !== undefined) {
      this.batchHandler = new BatchHandler({
        definition,
        size: settings.batch.size,
        maxWaitMs: settings.batch.maxWaitMs,
        store,
        consumer: plan.name,
        timeoutMs: settings.timeoutMs,
        leaseMs: settings.leaseMs,
        hardStop: this.hardStop.signal,
        logger: this.deps.logger.child({ consumer: plan.name }),
      });
      return [...steps, this.batchHandler.step];
    }
    return [...steps, dedupe, handle];
  }

  private onDelivery(delivery: Delivery): void {
    const started = performance.now();
    const ctx = this.jobState(delivery);
    if (this.deps.history !== undefined) ctx.attemptStartedAt = Date.now();
    this.counters.received.inc();
    this.counters.inFlight.inc();
    const run = () => this.semaphore.run(() => this.pipeline(ctx));
    const key = this.ordered ? ctx.orderingKey : undefined;
    const job = (key !== undefined ? this.serializer.run(key, run) : run())
      .catch((error: unknown) => {
        ctx.outcome = 'unsettled';
        ctx.logger.error({ err: error }, 'pipeline failed unexpectedly');
      })
      .finally(() => {
        this.inFlight.delete(job);
        this.counters.inFlight.dec();
        this.finish(ctx, started);
      });
    this.inFlight.add(job);
  }

  private finish(ctx: JobState, started: number): void {
    const outcome = ctx.outcome ?? 'unsettled';
    const durationMs = Math.round(performance.now() - started);
    this.deps.metrics.record(this.name, outcome, durationMs / 1000, ctx.deadLetterReason);
    if (this.deps.onJobSettled !== undefined) this.reportSettled(ctx, outcome);
    // A delivery whose ack could not be sent ('unsettled') comes back: for the history it was released.
    if (this.deps.history !== undefined) this.recordAttempt(this.deps.history, ctx, outcome === 'unsettled' ? 'released' : outcome, ctx.error, Date.now());
    const level = outcome === 'dead-lettered' || outcome === 'unsettled' ? 'warn' : 'info';
    if (!this.deps.logger.isLevelEnabled(level)) return;
    ctx.logger[level]({ outcome, durationMs, ...(ctx.deadLetterReason && { reason: ctx.deadLetterReason }) }, 'job settled');
  }

  private recordAttempt(history: HistoryRecorder, ctx: JobState, outcome: AttemptRecord['outcome'], failure: unknown, finishedAtMs: number): void {
    const error = failure === undefined || outcome === 'succeeded' || outcome === 'duplicate' ? undefined : failure instanceof Error ? failure : new Error(String(failure));
    history.attempt({
      jobId: ctx.jobId,
      jobType: ctx.delivery.properties.type ?? null,
      consumer: this.name,
      attempt: ctx.attempt,
      startedAtMs: ctx.attemptStartedAt ?? finishedAtMs,
      finishedAtMs,
      outcome,
      deadLetterReason: outcome === 'dead-lettered' ? (ctx.deadLetterReason ?? null) : null,
      errorClass: error === undefined ? null : error.name || error.constructor.name,
      errorMessage: error === undefined ? null : boundedMessage(error.message),
      workerId: this.deps.workerId,
      traceId: traceIdOfHeaders(ctx.headers),
    });
  }

  private reportSettled(ctx: JobState, outcome: JobSettledEvent['outcome']): void {
    const error = ctx.error === undefined ? undefined : ctx.error instanceof Error ? ctx.error : new Error(String(ctx.error));
    try {
      this.deps.onJobSettled?.({
        consumer: this.name,
        jobId: ctx.jobId,
        jobType: ctx.delivery.properties.type,
        attempt: ctx.attempt,
        outcome,
        deadLetterReason: ctx.deadLetterReason,
        error: error === undefined ? undefined : { class: error.name || error.constructor.name, message: error.message },
      });
    } catch (listenerError) {
      // A listener's bug must not turn into a job's failure.
      this.deps.logger.warn({ err: listenerError }, 'onJobSettled listener threw');
    }
  }

  private jobState(delivery: Delivery): JobState {
    const { message } = delivery;
    const headers: Headers = (message.properties.headers as Headers | undefined) ?? {};
    const incoming: IncomingDelivery = {
      content: message.content,
      exchange: message.fields.exchange,
      routingKey: message.fields.routingKey,
      queue: delivery.queue,
      redelivered: message.fields.redelivered,
      properties: { ...message.properties, headers },
      ack: () => delivery.ack(),
      nack: (requeue) => delivery.nack(requeue),
    };
    const jobId = jobIdOf(incoming);
    const attempt = attemptOf(headers);
    const rawKey = headers[HEADERS.orderingKey];
    const orderingKey = rawKey === undefined || rawKey === null ? undefined : String(rawKey);
    const base = this.deps.logger;
    let logger: Logger | undefined;
    const state = {
      delivery: incoming,
      jobId,
      orderingKey,
      headers,
      attempt,
      body: undefined,
      payload: undefined,
      tx: undefined,
      duplicate: false,
      outcome: undefined,
    };
    // The job's child logger is made on first use: most jobs of a busy
    // worker at level warn never log, and a child costs more than the job.
    return Object.defineProperty(state, 'logger', {
      enumerable: true,
      get: () => (logger ??= base.child({ jobId, consumer: this.name, attempt, queue: delivery.queue })),
    }) as JobState;
  }
}

/** True if every promise settled within `ms`. */
async function waitAll(promises: Set<Promise<void>>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled([...promises]).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
