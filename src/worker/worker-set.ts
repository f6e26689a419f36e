import type { Server } from 'node:http';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import { loadConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { startStreamWorker, type RunningStreamWorker, type StreamWorkerDefinition } from '../streams/stream-worker.ts';
import { loadTopology } from '../topology/load.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { loadAnyWorkerModule, WorkerModuleError, type LoadedWorkerModule } from './load.ts';
import { startMetricsServer, type HealthReport } from './metrics.ts';
import { Worker, type WorkerInit } from './worker.ts';

/**
 * What `warren worker` runs in one process: the job workers of the modules
 * given (one `Worker`, as before) and one consumer-group member per stream
 * worker module. With stream members, `/metrics` serves the job worker's
 * registry and each member's (one registry per group: their metric names
 * are the same), and `/healthz` is 200 once every member has joined its
 * group and the job worker (if any) consumes every queue.
 */
export interface WorkerSetInit extends WorkerInit {
  topology: string;
  workers: readonly string[];
  cwd?: string;
  /** Where stream groups keep members and offsets; required as soon as one module is a stream worker. */
  databaseUrl?: string | undefined;
  /** Table prefix of the group tables. @defaultValue 'warren_' */
  streamTablePrefix?: string;
}

export interface RunningWorkerSet {
  /** The job workers, when any module was one. */
  readonly jobs: Worker | undefined;
  readonly streams: ReadonlyArray<{ stream: string; group: string; member: RunningStreamWorker }>;
  /** The port `/metrics` and `/healthz` listen on, when on. */
  readonly metricsPort: number | undefined;
  /** Stops everything gracefully: job workers finish in-flight jobs, members finish their batch and leave their group. Safe to call twice. */
  stop(): Promise<void>;
}

/** A setting the modules need is missing (names it). */
export class MissingSettingError extends Error {
  override readonly name = 'MissingSettingError';
}

export async function startWorkerSet(init: WorkerSetInit): Promise<RunningWorkerSet> {
  const { topology, workers, cwd, databaseUrl, streamTablePrefix, ...workerInit } = init;
  const { plan } = await loadTopology(topology);
  const modules = await Promise.all(workers.map((spec) => loadAnyWorkerModule(spec, cwd)));
  const streamModules = modules.filter((m): m is Extract<LoadedWorkerModule, { kind: 'stream' }> => m.kind === 'stream');
  const jobDefinitions = modules.flatMap((m) => (m.kind === 'job' ? [m.definition] : []));
  checkStreamModules(streamModules, plan, databaseUrl);
  const urls = workerInit.urls ?? loadConfig().amqpUrls;
  const metricsPort = workerInit.metricsPort ?? 0;
  if (streamModules.length === 0) {
    // Job workers only: exactly what `runWorkers` does (the Worker serves its own /metrics).
    const jobs = new Worker(jobDefinitions, plan, { ...workerInit, urls });
    await jobs.start();
    return { jobs, streams: [], metricsPort: jobs.metricsPort, stop: () => jobs.stop() };
  }
  return startMixed(plan, jobDefinitions, streamModules, { ...workerInit, urls, metricsPort, databaseUrl: databaseUrl ?? '', streamTablePrefix });
}

function checkStreamModules(modules: ReadonlyArray<{ spec: string; definition: StreamWorkerDefinition }>, plan: TopologyPlan, databaseUrl: string | undefined): void {
  const streams = plan.streams ?? [];
  for (const { spec, definition } of modules) {
    if (!streams.some((s) => s.name === definition.stream)) {
      const known = streams.map((s) => s.name).join(', ') || 'none';
      throw new WorkerModuleError(`${spec}: stream "${definition.stream}" is not in the topology (streams: ${known})`);
    }
  }
  const seen = new Set<string>();
  for (const { spec, definition } of modules) {
    const key = `${definition.stream}\u0000${definition.group}`;
    if (seen.has(key)) throw new WorkerModuleError(`${spec}: group "${definition.group}" of stream "${definition.stream}" is given twice`);
    seen.add(key);
  }
  if (modules.length > 0 && (databaseUrl === undefined || databaseUrl === '')) {
    const groups = modules.map((m) => `${m.definition.stream}/${m.definition.group}`).join(', ');
    throw new MissingSettingError(`DATABASE_URL is not set: stream groups (${groups}) keep their members and offsets in PostgreSQL`);
  }
}

async function startMixed(
  plan: TopologyPlan,
  jobDefinitions: ConstructorParameters<typeof Worker>[0],
  streamModules: ReadonlyArray<{ spec: string; definition: StreamWorkerDefinition }>,
  init: WorkerInit & { urls: string[]; metricsPort: number; databaseUrl: string; streamTablePrefix: string | undefined },
): Promise<RunningWorkerSet> {
  const { databaseUrl, streamTablePrefix, metricsPort, ...workerInit } = init;
  const metricsOn = metricsPort > 0;
  // One server for the whole process: the Worker's own stays off.
  const jobs = jobDefinitions.length > 0 ? new Worker(jobDefinitions, plan, { ...workerInit, metricsPort: 0, defaultMetrics: metricsOn }) : undefined;
  const processRegistry = new Registry();
  if (metricsOn && jobs === undefined) collectDefaultMetrics({ register: processRegistry });
  const streams: Array<{ stream: string; group: string; member: RunningStreamWorker; registry: Registry }> = [];
  let server: Server | undefined;
  const stopAll = async () => {
    await Promise.all([
      jobs?.stop(),
      ...streams.map(({ member, stream, group }) =>
        member.stop().catch((error: unknown) => init.logger?.warn({ err: error, stream, group }, 'error while leaving the group')),
      ),
    ]);
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  };
  try {
    await jobs?.start();
    for (const { definition } of streamModules) {
      const registry = new Registry();
      const member = await startStreamWorker(definition, {
        plan,
        amqpUrls: init.urls,
        databaseUrl,
        ...(streamTablePrefix !== undefined && { tablePrefix: streamTablePrefix }),
        ...(init.logger !== undefined && { logger: init.logger }),
        ...(metricsOn && { metricsRegistry: registry }),
      });
      streams.push({ stream: definition.stream, group: definition.group, member, registry });
      init.logger?.info({ stream: definition.stream, group: definition.group, member: member.memberId, partitions: member.owned() }, 'stream group member running');
    }
    if (metricsOn) {
      const registry = combinedRegistry(jobs?.metrics.registry ?? processRegistry, streams.map((s) => s.registry));
      server = await startMetricsServer({ registry }, metricsPort, () => health(jobs, streams.length === streamModules.length));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    jobs,
    streams: streams.map(({ stream, group, member }) => ({ stream, group, member })),
    get metricsPort() {
      const address = server?.address();
      return typeof address === 'object' && address !== null ? address.port : undefined;
    },
    stop: () => (stopping ??= stopAll()),
  };
}

/**
 * One exposition: the process's registry (job workers, default metrics) as
 * it is, then the groups' registries merged. Each group's member has a
 * registry of its own (the `warren_stream_*` names are the same in each),
 * its series told apart by the `group` label, so merging (summing identical
 * label sets) never adds two groups together. The process registry is not
 * merged: the aggregator drops metrics such as `process_start_time_seconds`.
 */
function combinedRegistry(base: Registry, groups: readonly Registry[]): Pick<Registry, 'metrics' | 'contentType'> {
  return {
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
    metrics: async () => {
      const merged = AggregatorRegistry.aggregate(await Promise.all(groups.map((registry) => registry.getMetricsAsJSON())));
      return `${(await base.metrics()).trimEnd()}\n${await merged.metrics()}`;
    },
  };
}

function health(jobs: Worker | undefined, membersJoined: boolean): HealthReport {
  const jobsHealthy = jobs === undefined || jobs.healthy;
  if (jobsHealthy && membersJoined) return { healthy: true, body: { status: 'ok' } };
  return { healthy: false, body: { status: 'unavailable', jobWorkers: jobs === undefined ? 'none' : jobs.health(), streamMembersJoined: membersJoined } };
}
