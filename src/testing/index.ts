/**
 * `warren/testing`: what warren's own tests use, for yours. A vhost of its
 * own per test file (so tests run in parallel and re-run on a dirty
 * broker), a worker run in-process against that real broker, and a way to
 * wait for a job's outcome instead of sleeping.
 *
 *   const vhost = await createTestVhost();
 *   const plan = await vhost.apply('topology.yaml');
 *   const worker = await startTestWorker({ vhost, topology: plan, workers: [myWorker] });
 *   const jobs = await createJobClient({ topology: plan, amqpUrls: [vhost.amqpUrl] });
 *   const { id } = await jobs.enqueue('user.signed-up', payload);
 *   expect((await worker.waitForJob(id)).outcome).toBe('succeeded');
 *   await jobs.close(); await worker.stop(); await vhost.cleanup();
 */
import { randomBytes } from 'node:crypto';
import { encodeVhost, ManagementClient } from '../broker/management.ts';
import { withVhost } from '../broker/urls.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { declarePlanAt } from '../topology/declare.ts';
import { loadTopology } from '../topology/load.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import type { JobSettledEvent } from '../worker/context.ts';
import { isWorkerDefinition, type WorkerDefinition } from '../worker/define.ts';
import { loadWorkerModule } from '../worker/load.ts';
import { Worker, type WorkerInit } from '../worker/worker.ts';

export interface TestVhostOptions {
  /** Start of the vhost's name (a random suffix follows). @defaultValue 'warren-test' */
  prefix?: string;
  /** The broker: the first URL is used, its vhost replaced. @defaultValue `AMQP_URL` */
  amqpUrl?: string;
  /** Creates and deletes the vhost. @defaultValue `RABBITMQ_MANAGEMENT_URL` */
  managementUrl?: string;
}

export interface TestVhost {
  /** The vhost's name. */
  readonly name: string;
  /** An AMQP URL pointing at this vhost (pass it as `amqpUrls: [vhost.amqpUrl]`). */
  readonly amqpUrl: string;
  /**
   * Declares a topology (file or plan) in this vhost and returns its plan
   * pointed at this vhost — the `vhost` the file names, if any, replaced —
   * for the job client, `startTestWorker` or `startProducer`.
   */
  apply(topology: string | TopologyPlan): Promise<TopologyPlan>;
  /** Deletes the vhost and everything in it. Safe to call twice. */
  cleanup(): Promise<void>;
}

/** A fresh vhost on the broker, for one test file. Pair with `cleanup()` in `afterAll`. */
export async function createTestVhost(options: TestVhostOptions = {}): Promise<TestVhost> {
  const config = loadConfig();
  const baseUrl = options.amqpUrl ?? config.amqpUrls[0] ?? 'amqp://guest:guest@127.0.0.1:5672';
  const managementUrl = options.managementUrl ?? config.managementUrl;
  const management = new ManagementClient(managementUrl);
  const name = `${options.prefix ?? 'warren-test'}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await management.put(`/vhosts/${encodeVhost(name)}`, {});
  const user = decodeURIComponent(new URL(managementUrl).username) || 'guest';
  await management.put(`/permissions/${encodeVhost(name)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  const amqpUrl = withVhost(baseUrl, name);
  let removed: Promise<void> | undefined;
  return {
    name,
    amqpUrl,
    async apply(topology) {
      const plan = { ...(typeof topology === 'string' ? (await loadTopology(topology)).plan : topology), vhost: name };
      await declarePlanAt(amqpUrl, plan);
      return plan;
    },
    cleanup() {
      removed ??= management.delete(`/vhosts/${encodeVhost(name)}`);
      return removed;
    },
  };
}

/** Final outcomes of a job for one consumer: nothing more will happen to it there. */
const FINAL: ReadonlySet<JobSettledEvent['outcome']> = new Set(['succeeded', 'duplicate', 'dead-lettered']);

export interface StartTestWorkerOptions extends Omit<WorkerInit, 'urls' | 'onJobSettled'> {
  /** Where the worker consumes. */
  vhost: Pick<TestVhost, 'name' | 'amqpUrl'>;
  /** A topology file or plan (e.g. what `vhost.apply` returned); its queues must exist in the vhost. */
  topology: string | TopologyPlan;
  /** Worker definitions, or module paths as `warren worker` takes them. */
  workers: ReadonlyArray<WorkerDefinition | string>;
}

export interface TestWorker {
  readonly worker: Worker;
  /** Every delivery's end so far, in order. */
  readonly settled: readonly JobSettledEvent[];
  /**
   * Resolves with the job's final outcome in a consumer (`succeeded`,
   * `duplicate` or `dead-lettered`), also if it happened before the call.
   * Retries are passed over. With several consumers in this worker, say
   * which. Rejects after `timeoutMs` (default 10 s) listing what was seen.
   */
  waitForJob(jobId: string, options?: { consumer?: string; timeoutMs?: number }): Promise<JobSettledEvent>;
  /** Stops the worker (in-flight jobs finish or are released). */
  stop(): Promise<void>;
}

/** Runs worker definitions in this process against the test vhost, quiet unless `LOG_LEVEL` says otherwise. */
export async function startTestWorker(options: StartTestWorkerOptions): Promise<TestWorker> {
  const { vhost, topology, workers, ...init } = options;
  const loaded = typeof topology === 'string' ? (await loadTopology(topology)).plan : topology;
  const plan = { ...loaded, vhost: vhost.name };
  const definitions = await Promise.all(workers.map((worker) => (isWorkerDefinition(worker) ? worker : loadWorkerModule(worker))));
  const consumers = definitions.map((definition) => definition.consumer);
  const settled: JobSettledEvent[] = [];
  const waiters = new Set<(event: JobSettledEvent) => void>();
  const worker = new Worker(definitions, plan, {
    shutdownTimeoutMs: 2_000,
    logger: createLogger('warren-test-worker', { level: process.env.LOG_LEVEL ?? 'warn', pretty: false }),
    ...init,
    urls: [vhost.amqpUrl],
    onJobSettled: (event) => {
      settled.push(event);
      for (const waiter of waiters) waiter(event);
    },
  });
  await worker.start();
  return {
    worker,
    settled,
    waitForJob(jobId, waitOptions = {}) {
      const consumer = waitOptions.consumer ?? (consumers.length === 1 ? consumers[0] : undefined);
      if (consumer === undefined) {
        return Promise.reject(new TypeError(`waitForJob: this worker runs ${consumers.join(', ')}; say which consumer`));
      }
      const matches = (event: JobSettledEvent) => event.jobId === jobId && event.consumer === consumer && FINAL.has(event.outcome);
      const done = settled.find(matches);
      if (done !== undefined) return Promise.resolve(done);
      const timeoutMs = waitOptions.timeoutMs ?? 10_000;
      return new Promise((resolve, reject) => {
        const waiter = (event: JobSettledEvent) => {
          if (!matches(event)) return;
          finish();
          resolve(event);
        };
        const timer = setTimeout(() => {
          finish();
          const seen = settled.filter((event) => event.jobId === jobId && event.consumer === consumer);
          const history = seen.map((event) => `${event.outcome} (attempt ${event.attempt}${event.error ? `: ${event.error.message}` : ''})`);
          reject(new Error(`job ${jobId} in ${consumer}: no final outcome within ${timeoutMs} ms (seen: ${history.join(', ') || 'nothing'})`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        waiters.add(waiter);
      });
    },
    stop: () => worker.stop(),
  };
}

export type { JobSettledEvent } from '../worker/context.ts';
