import { NonRetryableError } from '../errors.ts';
import type { ConsumerPlan } from '../topology/plan.ts';
import type { WorkerDefinition } from './define.ts';
import { requireInteger } from '../options.ts';

/** Process-wide options of a `Worker` (all optional; see DEFAULTS). */
export interface WorkerOptions {
  /** Broker URLs (several for a cluster). @defaultValue AMQP_URL */
  urls?: string[];
  /** Time in-flight handlers get to finish on stop before they are released. @defaultValue 10_000 */
  shutdownTimeoutMs?: number;
  /** HTTP port of `/metrics` and `/healthz`; 0 = off. @defaultValue 0 */
  metricsPort?: number;
  /** Identifies this process in DLQ headers and logs. @defaultValue `<hostname>:<pid>` */
  workerId?: string;
  /** How often a delivery re-tries a busy claim. @defaultValue 250 */
  claimPollMs?: number;
  /** First wait before re-subscribing a consumer the broker cancelled (doubles per failed try, with jitter). @defaultValue 250 */
  resubscribeInitialMs?: number;
  /** Longest wait between re-subscribe tries. @defaultValue 10_000 */
  resubscribeMaxMs?: number;
  /**
   * Redis that holds the buckets of consumers with a `rateLimit`, shared by
   * every worker process; without one each process limits itself alone.
   * `''` forces per-process buckets. @defaultValue REDIS_URL
   */
  rateLimitRedisUrl?: string;
}

export interface ResolvedWorkerOptions {
  urls: string[];
  shutdownTimeoutMs: number;
  metricsPort: number;
  workerId: string;
  claimPollMs: number;
  resubscribeInitialMs: number;
  resubscribeMaxMs: number;
  rateLimitRedisUrl: string | undefined;
}

export const WORKER_DEFAULTS = {
  shutdownTimeoutMs: 10_000,
  metricsPort: 0,
  claimPollMs: 250,
  resubscribeInitialMs: 250,
  resubscribeMaxMs: 10_000,
  timeoutMs: 30_000,
  leaseMarginMs: 5_000,
} as const;

export function resolveWorkerOptions(options: WorkerOptions, fallback: { urls: string[]; workerId: string; redisUrl?: string | undefined }): ResolvedWorkerOptions {
  const resolved: ResolvedWorkerOptions = {
    urls: options.urls && options.urls.length > 0 ? options.urls : fallback.urls,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? WORKER_DEFAULTS.shutdownTimeoutMs,
    metricsPort: options.metricsPort ?? WORKER_DEFAULTS.metricsPort,
    workerId: options.workerId ?? fallback.workerId,
    claimPollMs: options.claimPollMs ?? WORKER_DEFAULTS.claimPollMs,
    resubscribeInitialMs: options.resubscribeInitialMs ?? WORKER_DEFAULTS.resubscribeInitialMs,
    resubscribeMaxMs: options.resubscribeMaxMs ?? WORKER_DEFAULTS.resubscribeMaxMs,
    rateLimitRedisUrl: (options.rateLimitRedisUrl ?? fallback.redisUrl) || undefined,
  };
  requireInteger('shutdownTimeoutMs', resolved.shutdownTimeoutMs, 0);
  requireInteger('metricsPort', resolved.metricsPort, 0, 65_535);
  requireInteger('claimPollMs', resolved.claimPollMs, 1);
  requireInteger('resubscribeInitialMs', resolved.resubscribeInitialMs, 1);
  requireInteger('resubscribeMaxMs', resolved.resubscribeMaxMs, resolved.resubscribeInitialMs);
  if (resolved.urls.length === 0) throw new RangeError('worker: at least one broker URL is required');
  return resolved;
}

/** A definition's settings merged with its consumer plan, all required. */
export interface ConsumerSettings {
  concurrency: number;
  timeoutMs: number;
  leaseMs: number;
  isRetryable: (error: unknown) => boolean;
  /** Batch workers only. */
  batch: { size: number; maxWaitMs: number } | undefined;
}

export function resolveConsumerSettings(definition: WorkerDefinition, plan: ConsumerPlan): ConsumerSettings {
  const timeoutMs = definition.timeoutMs ?? WORKER_DEFAULTS.timeoutMs;
  const settings: ConsumerSettings = {
    concurrency: definition.concurrency ?? plan.prefetch,
    timeoutMs,
    leaseMs: definition.leaseMs ?? timeoutMs + WORKER_DEFAULTS.leaseMarginMs,
    isRetryable: definition.isRetryable ?? ((error) => !(error instanceof NonRetryableError)),
    batch: definition.batch === undefined ? undefined : { ...definition.batch },
  };
  requireInteger(`${definition.consumer}: concurrency`, settings.concurrency, 1);
  requireInteger(`${definition.consumer}: timeoutMs`, settings.timeoutMs, 1);
  requireInteger(`${definition.consumer}: leaseMs`, settings.leaseMs, 1);
  // A lease shorter than the handler may run would let a second delivery
  // claim a job that is still running.
  if (settings.leaseMs < settings.timeoutMs) {
    throw new RangeError(`${definition.consumer}: leaseMs (${settings.leaseMs}) must be at least timeoutMs (${settings.timeoutMs})`);
  }
  if (settings.batch !== undefined) requireBatchFits(definition.consumer, settings.batch, settings.concurrency, plan.prefetch);
  return settings;
}

/**
 * A batch only fills if the broker hands over that many unacked deliveries
 * (prefetch, per queue) and that many may wait in the worker at once
 * (concurrency, which defaults to the prefetch). Refused at start-up rather
 * than silently running batches that can never be full.
 */
function requireBatchFits(consumer: string, batch: { size: number; maxWaitMs: number }, concurrency: number, prefetch: number): void {
  requireInteger(`${consumer}: batch.size`, batch.size, 1);
  requireInteger(`${consumer}: batch.maxWaitMs`, batch.maxWaitMs, 0);
  if (prefetch < batch.size) {
    throw new RangeError(`${consumer}: prefetch ${prefetch} cannot fill a batch of ${batch.size}; set the consumer's prefetch to at least ${batch.size} (2 × ${batch.size} lets the next batch gather while one runs)`);
  }
  if (concurrency < batch.size) {
    throw new RangeError(`${consumer}: concurrency ${concurrency} cannot fill a batch of ${batch.size}; leave it unset (it follows the prefetch) or set it to at least ${batch.size}`);
  }
}
