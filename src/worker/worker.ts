import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import { BrokerConnection } from '../broker/connection.ts';
import { parseAmqpUrls } from '../broker/urls.ts';
import { targetVhost, urlsForVhost } from '../broker/vhost.ts';
import { formatDuration } from '../duration.ts';
import { BrokerUnavailableError } from '../errors.ts';
import { resolveHistory, type HistorySetting, type JobHistoryHandle } from '../history/index.ts';
import { MemoryIdempotencyStore } from '../idempotency/memory.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import { createLogger, type Logger } from '../log.ts';
import { buildJobTypes, type JobType } from '../client/job-types.ts';
import type { ConsumerPlan, TopologyPlan } from '../topology/plan.ts';
import { ConsumerRuntime } from './consumer-runtime.ts';
import { createRedisRateLimiter, LocalRateLimiter, RATE_LIMIT_KEY_PREFIX, type RateLimiter } from './rate-limiter.ts';
import type { JobSettledEvent } from './context.ts';
import type { WorkerDefinition } from './define.ts';
import { startMetricsServer, WorkerMetrics, type HealthReport } from './metrics.ts';
import { resolveConsumerSettings, resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.ts';

export const WorkerState = {
  Idle: 'idle',
  Starting: 'starting',
  Running: 'running',
  Stopping: 'stopping',
  Stopped: 'stopped',
} as const;
export type WorkerState = (typeof WorkerState)[keyof typeof WorkerState];

/** One queue of one consumer that is not consumed right now. */
export interface UnsubscribedQueue {
  consumer: string;
  queue: string;
  /** The latest reason (broker cancel, missing queue, lost connection, …). */
  reason: string;
  /** ISO time since which it is not subscribed. */
  since: string;
}

export interface WorkerHealth {
  /** Running, connected, and every queue of every consumer subscribed. */
  healthy: boolean;
  state: WorkerState;
  connected: boolean;
  unsubscribed: UnsubscribedQueue[];
}

export interface WorkerInit extends WorkerOptions {
  logger?: Logger;
  /** Called when a delivery ends (succeeded, duplicate, retried, dead-lettered, released); for tests and instrumentation. */
  onJobSettled?: (event: JobSettledEvent) => void;
  /** Also export Node.js process metrics. @defaultValue true when a metrics port is set */
  defaultMetrics?: boolean;
  /**
   * Job history: one row per attempt of every consumer. Options (or an open
   * handle to share) turn it on, `false` off. @defaultValue on when `WARREN_HISTORY_URL` is set
   */
  history?: HistorySetting;
}

/**
 * Runs one or several worker definitions in this process. Two connections:
 * one consumes, one publishes retry/DLQ copies, so a publisher blocked by a
 * memory alarm never stalls acks. `start()` and `stop()` are safe to call
 * twice; `stop()` is memoized and runs every cleanup step even if one fails.
 */
export class Worker {
  readonly metrics: WorkerMetrics;
  private readonly options: ResolvedWorkerOptions;
  private readonly logger: Logger;
  private currentState: WorkerState = WorkerState.Idle;
  private starting: Promise<void> | undefined;
  private startAttempt: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private consumeConnection: BrokerConnection | undefined;
  private publishConnection: BrokerConnection | undefined;
  private publisher: ConfirmPublisher | undefined;
  private readonly runtimes: ConsumerRuntime[] = [];
  private readonly ownedStores: IdempotencyStore[] = [];
  private readonly rateLimiters: RateLimiter[] = [];
  private server: Server | undefined;
  private readonly jobTypes: ReadonlyMap<string, JobType>;
  private readonly onJobSettled: WorkerInit['onJobSettled'];
  private readonly historySetting: HistorySetting;
  private historyInUse: { handle: JobHistoryHandle; owned: boolean } | undefined;

  constructor(
    private readonly definitions: readonly WorkerDefinition[],
    private readonly plan: TopologyPlan,
    init: WorkerInit = {},
  ) {
    if (definitions.length === 0) throw new RangeError('worker: no worker definitions given');
    const resolved = resolveWorkerOptions(init, { urls: parseAmqpUrls(process.env.AMQP_URL), workerId: `${hostname()}:${process.pid}`, redisUrl: process.env.REDIS_URL });
    this.options = { ...resolved, urls: urlsForVhost(plan, resolved.urls) };
    this.logger = init.logger ?? createLogger('warren-worker');
    this.onJobSettled = init.onJobSettled;
    this.historySetting = init.history;
    this.metrics = new WorkerMetrics({ defaultMetrics: init.defaultMetrics ?? this.options.metricsPort > 0 });
    for (const definition of definitions) resolveConsumerSettings(definition, this.consumerPlan(definition));
    // Compiled once here, shared by every consumer of this process.
    this.jobTypes = buildJobTypes(plan.jobs);
  }

  get state(): WorkerState {
    return this.currentState;
  }

  /** The job history this worker records to, when on. */
  get history(): JobHistoryHandle | undefined {
    return this.historyInUse?.handle;
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** The port `/metrics` listens on (useful with port 0 = any). */
  get metricsPort(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /**
   * Never healthy while consuming nothing: the worker must be running, its
   * consuming connection up, and every queue of every consumer (each shard
   * queue of a sharded one) subscribed.
   */
  get healthy(): boolean {
    return this.health().healthy;
  }

  health(): WorkerHealth {
    const connected = this.consumeConnection?.state.connected === true;
    const unsubscribed: UnsubscribedQueue[] = [];
    for (const runtime of this.runtimes) {
      for (const status of runtime.subscriptions) {
        if (status.subscribed) continue;
        unsubscribed.push({ consumer: runtime.name, queue: status.queue, reason: status.reason ?? 'not subscribed', since: status.since.toISOString() });
      }
    }
    const healthy = this.currentState === WorkerState.Running && connected && this.runtimes.length > 0 && unsubscribed.length === 0;
    return { healthy, state: this.currentState, connected, unsubscribed };
  }

  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('worker: cannot start after stop'));
    if (!this.starting) {
      // stop() waits for the start attempt itself, not for this wrapper,
      // which waits for stop(): a failed start must not deadlock.
      const attempt = this.doStart();
      this.startAttempt = attempt;
      this.starting = attempt.catch(async (error: unknown) => {
        await this.stop();
        throw error;
      });
    }
    return this.starting;
  }

  /** Stop taking messages, finish or release in-flight ones, close channels, then connections. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStart(): Promise<void> {
    this.currentState = WorkerState.Starting;
    const { urls, workerId } = this.options;
    this.consumeConnection = new BrokerConnection({ urls, name: `warren-worker-consume ${workerId}`, noDelay: false });
    this.publishConnection = new BrokerConnection({ urls, name: `warren-worker-publish ${workerId}` });
    this.consumeConnection.on('state', (state: { connected: boolean }, reason?: string) =>
      this.logger.info({ connected: state.connected, reason }, 'consume connection state'),
    );
    try {
      await Promise.all([this.consumeConnection.waitForConnect(), this.publishConnection.waitForConnect()]);
    } catch (error) {
      throw new BrokerUnavailableError('cannot connect to the broker', { cause: error });
    }
    this.publisher = new ConfirmPublisher(this.publishConnection, { channels: 1 });
    await this.publisher.waitForConnect();
    this.historyInUse = resolveHistory(this.historySetting, { logger: this.logger, registry: this.metrics.registry });
    const defaultStore = new MemoryIdempotencyStore();
    this.ownedStores.push(defaultStore);
    for (const definition of this.definitions) {
      this.runtimes.push(
        new ConsumerRuntime({
          definition,
          plan: this.consumerPlan(definition),
          jobTypes: this.jobTypes,
          settings: resolveConsumerSettings(definition, this.consumerPlan(definition)),
          store: await this.storeFor(definition, defaultStore),
          connection: this.consumeConnection,
          publisher: this.publisher,
          workerId,
          metrics: this.metrics,
          logger: this.logger,
          claimPollMs: this.options.claimPollMs,
          resubscribe: { initialMs: this.options.resubscribeInitialMs, maxMs: this.options.resubscribeMaxMs },
          onJobSettled: this.onJobSettled,
          rateLimiter: await this.rateLimiterFor(this.consumerPlan(definition)),
          history: this.historyInUse?.handle.recorder,
        }),
      );
    }
    await Promise.all(this.runtimes.map((runtime) => runtime.start()));
    if (this.options.metricsPort > 0) {
      this.server = await startMetricsServer(this.metrics, this.options.metricsPort, () => this.healthReport());
    }
    if (this.stopping) return;
    this.currentState = WorkerState.Running;
    this.logger.info({ workerId, consumers: this.runtimes.map((r) => r.name) }, 'worker running');
  }

  private async doStop(): Promise<void> {
    await this.startAttempt?.catch(() => undefined);
    this.currentState = WorkerState.Stopping;
    const deadline = this.options.shutdownTimeoutMs;
    const steps: Array<() => Promise<unknown>> = [
      () => Promise.all(this.runtimes.map((runtime) => runtime.stop(deadline))),
      async () => this.publisher?.close(),
      // After the consumers: the attempts they just finished are written (or counted as dropped).
      async () => (this.historyInUse?.owned ? this.historyInUse.handle.close() : undefined),
      () => Promise.all(this.ownedStores.map((store) => store.close())),
      () => Promise.all(this.rateLimiters.map((limiter) => limiter.close())),
      async () => this.consumeConnection?.close(),
      async () => this.publishConnection?.close(),
      () => new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve())),
    ];
    for (const step of steps) {
      await step().catch((error: unknown) => this.logger.warn({ err: error }, 'error while stopping'));
    }
    this.currentState = WorkerState.Stopped;
    this.logger.info({ workerId: this.options.workerId }, 'worker stopped');
  }

  /** `/healthz`: `{"status":"ok"}`, or 503 naming every queue not consumed and why. */
  private healthReport(): HealthReport {
    const health = this.health();
    if (health.healthy) return { healthy: true, body: { status: 'ok' } };
    return {
      healthy: false,
      body: { status: 'unavailable', state: health.state, connected: health.connected, unsubscribed: health.unsubscribed },
    };
  }

  private async storeFor(definition: WorkerDefinition, fallback: IdempotencyStore): Promise<IdempotencyStore> {
    const option = definition.idempotency;
    if (option === undefined) return fallback;
    if (typeof option !== 'function') return option;
    const store = await option();
    this.ownedStores.push(store);
    return store;
  }

  /** The consumer's bucket: shared through Redis when one is configured, else this process's own (and the log says which). */
  private async rateLimiterFor(plan: ConsumerPlan): Promise<RateLimiter | undefined> {
    const limit = plan.rateLimit;
    if (limit === undefined) return undefined;
    const redisUrl = this.options.rateLimitRedisUrl;
    const limiter =
      redisUrl === undefined
        ? new LocalRateLimiter(limit)
        : await createRedisRateLimiter({
            url: redisUrl,
            key: `${RATE_LIMIT_KEY_PREFIX}${targetVhost(this.plan, this.options.urls)}:${plan.name}`,
            limit,
            logger: this.logger,
          });
    this.rateLimiters.push(limiter);
    const note = redisUrl === undefined ? 'each worker process has its own bucket: N processes allow N times this rate (set REDIS_URL to share one)' : 'one bucket shared by every worker process of this consumer';
    this.logger.info({ consumer: plan.name, max: limit.max, perMs: limit.perMs, scope: limiter.scope }, `rate limit ${limit.max} per ${formatDuration(limit.perMs)}, ${limiter.scope}: ${note}`);
    return limiter;
  }

  private consumerPlan(definition: WorkerDefinition): ConsumerPlan {
    const plan = this.plan.consumers.find((consumer) => consumer.name === definition.consumer);
    if (plan === undefined) {
      const known = this.plan.consumers.map((c) => c.name).join(', ') || 'none';
      throw new RangeError(`worker: consumer "${definition.consumer}" is not in the topology (consumers: ${known})`);
    }
    return plan;
  }
}
