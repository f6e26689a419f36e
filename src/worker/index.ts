/** The worker runtime's public API. */
import { loadConfig } from '../config.ts';
import { loadTopology } from '../topology/load.ts';
import { loadWorkerModule } from './load.ts';
import { Worker, type WorkerInit } from './worker.ts';

export { NonRetryableError } from '../errors.ts';
export { defineWorker, isWorkerDefinition, type IdempotencyOption, type JobContext, type WorkerDefinition, type WorkerSpec } from './define.ts';
export { ClaimBusyError, HandlerTimeoutError, InvalidPayloadError, MalformedMessageError, ReleasedError } from './errors.ts';
export { isStreamWorkerDefinition, loadAnyWorkerModule, loadWorkerModule, resolveWorkerModule, streamWorkerName, WorkerModuleError, type LoadedWorkerModule } from './load.ts';
export { MissingSettingError, startWorkerSet, type RunningWorkerSet, type WorkerSetInit } from './worker-set.ts';
export { WORKER_DEFAULTS, type WorkerOptions } from './options.ts';
export type { JobSettledEvent, Outcome as JobOutcome } from './context.ts';
export { Worker, WorkerState, type UnsubscribedQueue, type WorkerHealth, type WorkerInit } from './worker.ts';

/**
 * Loads the topology and the job worker modules (paths or consumer names)
 * and starts them in one `Worker`. The caller stops it (e.g. on SIGTERM).
 * Stream workers too: `startWorkerSet` (what `warren worker` runs).
 */
export async function runWorkers(input: { topology: string; workers: readonly string[]; cwd?: string } & WorkerInit): Promise<Worker> {
  const { topology, workers, cwd, ...init } = input;
  const loaded = await loadTopology(topology);
  const definitions = await Promise.all(workers.map((spec) => loadWorkerModule(spec, cwd)));
  const urls = init.urls ?? loadConfig().amqpUrls;
  const worker = new Worker(definitions, loaded.plan, { ...init, urls });
  await worker.start();
  return worker;
}
