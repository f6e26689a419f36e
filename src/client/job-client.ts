import { BrokerConnection } from '../broker/connection.ts';
import { ConfirmPublisher, type ConfirmPublisherOptions } from '../broker/confirm-publisher.ts';
import { urlsForVhost } from '../broker/vhost.ts';
import { loadConfig } from '../config.ts';
import { BrokerUnavailableError } from '../errors.ts';
import type { Registry } from 'prom-client';
import { resolveHistory, type HistorySetting } from '../history/index.ts';
import { createLogger, type Logger } from '../log.ts';
import { buildJobTypes } from './job-types.ts';
import { loadTopology } from '../topology/load.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { JobClientClosedError } from './errors.ts';
import { JobSender } from './sender.ts';
import { EventSender, type PublishedEvent, type PublishEventOptions } from '../streams/event-sender.ts';
import { buildEventTypes } from '../streams/event-types.ts';
import type { EnqueuedJob, EnqueueManyOptions, EnqueueManyResult, EnqueueOptions, JobTypeMap, JobTypeName } from './types.ts';

export interface JobClientOptions {
  /** A topology file (YAML or JSON), or a plan already loaded (`(await loadTopology(file)).plan`). */
  topology: string | TopologyPlan;
  /**
   * Broker nodes (several for a cluster). The vhost is the topology's when
   * it names one, else these URLs'. @defaultValue `AMQP_URL`
   */
  amqpUrls?: string[];
  /** Confirm channels, in-flight bound (backpressure), confirm timeout. */
  publisher?: ConfirmPublisherOptions;
  /** How long `createJobClient` waits for the broker before it fails with `BrokerUnavailableError`. @defaultValue 10_000 */
  connectTimeoutMs?: number;
  /** The connection's name in the management UI. @defaultValue 'warren-job-client' */
  name?: string;
  /**
   * Job history: each confirmed job is recorded (see the README's "Job
   * history"). @defaultValue on when `WARREN_HISTORY_URL` is set
   */
  history?: HistorySetting;
  /** Where the history's counters (rows written, dropped) are registered. @defaultValue none */
  metricsRegistry?: Registry;
  /** Where history trouble is logged. @defaultValue a pino logger named warren-job-client, made only when history is on */
  logger?: Logger;
}

/**
 * Enqueues jobs from code. `enqueue` resolves only once the broker has
 * confirmed the job as persisted and routed to at least one queue (what a
 * `202` means over HTTP); it rejects with a typed error otherwise.
 */
export interface JobClient<Jobs extends JobTypeMap = Record<string, unknown>> {
  /** The job types of the topology. */
  readonly jobTypes: readonly string[];
  enqueue<T extends JobTypeName<Jobs>>(jobType: T, payload: Jobs[T], options?: EnqueueOptions): Promise<EnqueuedJob<T>>;
  enqueueMany<T extends JobTypeName<Jobs>>(
    jobType: T,
    payloads: ReadonlyArray<Jobs[T]>,
    options?: EnqueueManyOptions<Jobs[T]>,
  ): Promise<EnqueueManyResult>;
  /** The event types of the topology (`events:`). */
  readonly eventTypes: readonly string[];
  /**
   * Publishes an event to its stream's partition `stableHash(key) mod N`;
   * resolves once the broker confirmed it stored (confirms + mandatory).
   */
  publishEvent(eventType: string, payload: unknown, options?: PublishEventOptions): Promise<PublishedEvent>;
  /** Refuses new jobs, waits for those awaiting their confirm, then closes the connection. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Connects (waiting up to `connectTimeoutMs`) and returns a job client.
 * Pass the map that `warren types` generates to type job names and
 * payloads: `createJobClient<JobTypes>({ topology: 'topology.yaml' })`.
 */
export async function createJobClient<Jobs extends JobTypeMap = Record<string, unknown>>(
  options: JobClientOptions,
): Promise<JobClient<Jobs>> {
  const plan = typeof options.topology === 'string' ? (await loadTopology(options.topology)).plan : options.topology;
  const urls = urlsForVhost(plan, options.amqpUrls ?? loadConfig().amqpUrls);
  const connection = new BrokerConnection({ urls, name: options.name ?? 'warren-job-client' });
  const publisher = new ConfirmPublisher(connection, options.publisher);
  try {
    await connection.waitForConnect(options.connectTimeoutMs ?? 10_000);
    await publisher.waitForConnect();
  } catch (error) {
    await publisher.close();
    await connection.close();
    throw new BrokerUnavailableError('cannot connect to the broker', { cause: error });
  }
  const history =
    options.history === false || (options.history === undefined && process.env.WARREN_HISTORY_URL === undefined)
      ? undefined
      : resolveHistory(options.history, { logger: options.logger ?? createLogger('warren-job-client'), registry: options.metricsRegistry });
  const sender = new JobSender(buildJobTypes(plan.jobs), publisher, { history: history?.handle.recorder });
  const events = new EventSender(buildEventTypes(plan), publisher);
  const inFlight = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;

  const track = <T>(run: () => Promise<T>): Promise<T> => {
    if (closing !== undefined) return Promise.reject(new JobClientClosedError());
    const pending = run();
    inFlight.add(pending);
    const forget = () => inFlight.delete(pending);
    pending.then(forget, forget);
    return pending;
  };

  return {
    jobTypes: plan.jobs.map((job) => job.type),
    enqueue: (jobType, payload, enqueueOptions) =>
      track(() => sender.enqueue(jobType, payload, enqueueOptions) as Promise<EnqueuedJob<typeof jobType>>),
    eventTypes: [...events.eventTypes.keys()],
    publishEvent: (eventType, payload, publishOptions) => track(() => events.publish(eventType, payload, publishOptions)),
    enqueueMany: (jobType, payloads, enqueueOptions) =>
      track(() => sender.enqueueMany(jobType, payloads, enqueueOptions as EnqueueManyOptions<unknown> | undefined)),
    close: () => {
      closing ??= (async () => {
        await Promise.allSettled([...inFlight]);
        await publisher.close();
        await connection.close();
        if (history?.owned) await history.handle.close();
      })();
      return closing;
    },
  };
}
