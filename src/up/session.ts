import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { findBroker, type FoundBroker } from '../broker/find-broker.ts';
import { encodeVhost, ManagementClient } from '../broker/management.ts';
import { DEFAULT_AMQP_URL, parseAmqpUrls, redactUrl, vhostOf, withVhost } from '../broker/urls.ts';
import { startProducer, type RunningProducer } from '../producer/index.ts';
import { findOptionalServices, type OptionalServices } from '../services/probe.ts';
import { applyTopology } from '../topology/apply.ts';
import { loadTopology } from '../topology/load.ts';
import { pluginsNeededBy } from '../topology/plugins.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { logTail, WorkerProcess } from './worker-process.ts';

/**
 * `warren up` without the terminal: find a broker, apply the topology,
 * start the HTTP producer (in this process: one fewer Node runtime on a
 * small machine) and one child process per example worker: a consumer's
 * `workers/<consumer>.ts`, and for each stream of the topology every
 * `workers/<stream>.<group>.ts` (a consumer group member). `warren demo`
 * builds on the same session.
 */
export interface UpOptions {
  topologyFile: string;
  /** Run in this vhost instead of the one in `AMQP_URL` (the demo's own). */
  vhost?: string;
  /** May a broker be started when none answers (see findBroker)? */
  fallback: boolean;
  /** Producer port; 0 picks a free one. */
  port: number;
  host: string;
  /** Where `workers/` is. @defaultValue process.cwd() */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Level of the producer's and workers' logs (files in `logDir`). @defaultValue LOG_LEVEL, else info */
  logLevel?: string;
  /**
   * Run the producer without a token of its own: with the user's
   * `WARREN_API_TOKENS` if any, else with every route open (said loudly).
   * Otherwise a random admin token is made for the run and added to theirs.
   */
  insecure?: boolean;
  /** Progress and loud lines for the user. */
  say: (line: string) => void;
}

export interface SkippedWorker {
  consumer: string;
  reason: string;
}

export interface StopOptions {
  /** Delete the session's vhost and everything in it (the demo's). */
  deleteVhost?: boolean;
  /** Delete the directory of log files. */
  deleteLogs?: boolean;
}

export interface UpSession {
  plan: TopologyPlan;
  vhost: string;
  amqpUrl: string;
  /** Every node, in the session's vhost (one unless AMQP_URL lists a cluster). */
  amqpUrls: string[];
  managementUrl: string;
  broker: FoundBroker;
  services: OptionalServices;
  producer: RunningProducer;
  /** The admin token made for this run (printed); `undefined` with `insecure`. */
  token: string | undefined;
  workers: WorkerProcess[];
  skipped: SkippedWorker[];
  logDir: string;
  /** Stops workers (SIGTERM, wait), the producer, then the broker if we started it. Safe to call twice. */
  stop(options?: StopOptions): Promise<void>;
}

export async function startUp(options: UpOptions): Promise<UpSession> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const logLevel = options.logLevel ?? env.LOG_LEVEL ?? 'info';
  const { plan } = await loadTopology(options.topologyFile);
  // The broker is looked for on its root vhost: the session's vhost may not
  // exist yet (apply creates it), and a missing vhost is not a missing broker.
  const wanted = parseAmqpUrls(env.AMQP_URL);
  const probeEnv = env.AMQP_URL ? { ...env, AMQP_URL: wanted.map((url) => withVhost(url, '/')).join(',') } : env;
  const broker = await findBroker({ env: probeEnv, fallback: options.fallback, log: options.say, plugins: pluginsNeededBy(plan) });
  const vhost = options.vhost ?? plan.vhost ?? vhostOf(wanted[0] ?? DEFAULT_AMQP_URL);
  const others = broker.amqpUrls.length > 1 ? ` and ${broker.amqpUrls.length - 1} more node(s)` : '';
  options.say(`broker: ${redactUrl(broker.amqpUrl)}${others} (${broker.source}), vhost ${vhost}`);
  const amqpUrl = withVhost(broker.amqpUrl, vhost);
  // On a cluster every component gets every node (each connection starts at a node of its own).
  const amqpUrls = broker.amqpUrls.map((url) => withVhost(url, vhost));
  const cleanups: Array<() => Promise<void>> = [() => broker.stop()];
  const release = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const applied = await applyTopology(plan, { amqpUrls, managementUrl: broker.managementUrl });
    const created = applied.changes.filter((c) => c.action === 'create').length;
    options.say(`topology ${options.topologyFile} applied to vhost ${vhost}: ${created} created, ${applied.changes.length - created} unchanged`);
    const services = await findOptionalServices(env);
    options.say(describeServices(services));
    const logDir = await mkdtemp(join(tmpdir(), 'warren-up-'));
    // A developer-machine tool: it works whatever WARREN_API_TOKENS holds,
    // with a token of its own (added to the user's, which keep working).
    const token = options.insecure ? undefined : randomBytes(24).toString('base64url');
    const apiTokens = [env.WARREN_API_TOKENS?.trim(), token && `${token}:admin`].filter((entry) => entry !== undefined && entry !== '').join(',');
    const producer = await startProducer({
      plan,
      amqpUrls,
      managementUrl: broker.managementUrl,
      host: options.host,
      port: options.port,
      apiTokens,
      insecure: options.insecure === true,
      // The PostgreSQL the workers were given (found by probing when DATABASE_URL is unset) and the
      // group tables they use (the demo's are its own), for the producer's stream lag.
      ...(services.postgres.available && { databaseUrl: services.postgres.url }),
      ...(env.WARREN_STREAM_TABLE_PREFIX !== undefined && { streamTablePrefix: env.WARREN_STREAM_TABLE_PREFIX }),
      logger: pino({ name: 'warren-producer', level: logLevel }, pino.destination({ dest: join(logDir, 'producer.log'), sync: false })),
    });
    cleanups.push(() => producer.close());
    const events = (plan.events ?? []).length > 0 ? ', POST /v1/events/{eventType}, GET /v1/streams' : '';
    options.say(`producer: ${producer.url} (POST /v1/jobs/{jobType}, GET /v1/queues${events}, /openapi.json)`);
    options.say(`console: ${producer.url}/console  (sign in with the admin token)`);
    if (token !== undefined) options.say(`admin token for this run: ${token}  (Authorization: Bearer ${token})`);
    if (producer.insecure) options.say(`!! producer INSECURE: no API tokens, every route (DLQ replay included) is open to whoever reaches ${producer.url}`);
    const workerEnv = { ...childEnv(env, amqpUrls.join(','), broker.managementUrl, services), LOG_LEVEL: logLevel };
    const { workers, skipped } = await startWorkers(plan, { topologyFile: options.topologyFile, cwd, env: workerEnv, logDir });
    cleanups.push(async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
    });
    for (const skip of skipped) options.say(`!! worker ${skip.consumer} NOT started: ${skip.reason}`);
    options.say(`workers: ${workers.map((w) => `${w.consumer} (pid ${w.pid})`).join(', ')}; logs in ${logDir}`);
    return session({ plan, vhost, amqpUrl, amqpUrls, managementUrl: broker.managementUrl, broker, services, producer, token, workers, skipped, logDir }, cleanups);
  } catch (error) {
    await release();
    throw error;
  }
}

function session(parts: Omit<UpSession, 'stop'>, cleanups: Array<() => Promise<void>>): UpSession {
  let stopping: Promise<void> | undefined;
  const stop = (options: StopOptions = {}) => {
    stopping ??= (async () => {
      // Workers first (they finish in-flight jobs), then the producer, then
      // the vhost, and the broker we started last.
      const [brokerStop, ...rest] = cleanups;
      for (const cleanup of rest.reverse()) await cleanup().catch(() => undefined);
      if (options.deleteVhost && parts.vhost !== '/') {
        await new ManagementClient(parts.managementUrl).delete(`/vhosts/${encodeVhost(parts.vhost)}`).catch(() => undefined);
      }
      await brokerStop?.().catch(() => undefined);
      if (options.deleteLogs) await rm(parts.logDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { ...parts, stop };
}

/**
 * The workers see the session's broker and vhost, and PostgreSQL/Redis only
 * when the probes found them (a worker that needs one then fails to start
 * and is reported as skipped).
 */
function childEnv(env: NodeJS.ProcessEnv, amqpUrl: string, managementUrl: string, services: OptionalServices): NodeJS.ProcessEnv {
  const child: NodeJS.ProcessEnv = { ...env, AMQP_URL: amqpUrl, RABBITMQ_MANAGEMENT_URL: managementUrl, WARREN_LOG_PRETTY: '0' };
  delete child.DATABASE_URL;
  delete child.REDIS_URL;
  if (services.postgres.available) child.DATABASE_URL = services.postgres.url;
  if (services.redis.available) child.REDIS_URL = services.redis.url;
  return child;
}

async function startWorkers(
  plan: TopologyPlan,
  spec: { topologyFile: string; cwd: string; env: NodeJS.ProcessEnv; logDir: string },
): Promise<{ workers: WorkerProcess[]; skipped: SkippedWorker[] }> {
  const skipped: SkippedWorker[] = [];
  const withModule = plan.consumers.filter((consumer) => {
    const found = existsSync(join(spec.cwd, 'workers', `${consumer.name}.ts`));
    if (!found) skipped.push({ consumer: consumer.name, reason: `no worker module workers/${consumer.name}.ts` });
    return found;
  });
  const names = [...withModule.map((consumer) => consumer.name), ...streamGroupWorkers(plan, spec.cwd)];
  const started = await Promise.allSettled(
    names.map((name) =>
      WorkerProcess.start({
        consumer: name,
        topologyFile: spec.topologyFile,
        env: spec.env,
        logFile: join(spec.logDir, `${name}.log`),
        cwd: spec.cwd,
      }),
    ),
  );
  const workers: WorkerProcess[] = [];
  started.forEach((result, index) => {
    const consumer = names[index] ?? '?';
    if (result.status === 'fulfilled') workers.push(result.value);
    else skipped.push({ consumer, reason: startFailure(result.reason, join(spec.logDir, `${consumer}.log`)) });
  });
  return { workers, skipped };
}

/**
 * `<stream>.<group>` for every `workers/<stream>.<group>.ts` of a stream in
 * the topology (the name `warren worker` resolves back to that file). Groups
 * are defined in code, not in the topology: the files are the list.
 */
export function streamGroupWorkers(plan: TopologyPlan, cwd: string): string[] {
  const streams = plan.streams ?? [];
  if (streams.length === 0) return [];
  let files: string[];
  try {
    files = readdirSync(join(cwd, 'workers'));
  } catch {
    return [];
  }
  return streams.flatMap((stream) =>
    files
      .filter((file) => file.startsWith(`${stream.name}.`) && file.endsWith('.ts') && !file.endsWith('.d.ts'))
      .map((file) => file.slice(0, -'.ts'.length))
      .filter((name) => name.length > stream.name.length + 1)
      .sort(),
  );
}

/** The worker's own last error line says why (e.g. "needs DATABASE_URL"); the full log stays on disk. */
function startFailure(error: unknown, logFile: string): string {
  const lines = logTail(logFile, 40).split('\n');
  const said = lines.reverse().find((line) => /^warren:|error/i.test(line));
  const why = said ?? (error instanceof Error ? error.message.split('\n')[0] : String(error));
  return `${(why ?? '').slice(0, 300)} (log: ${logFile})`;
}

/** Says which optional services are there, and what their absence means. */
function describeServices(services: OptionalServices): string {
  const one = (name: string, probe: OptionalServices['redis']) =>
    probe.available ? `${name} at ${probe.displayUrl}` : `${name} absent (${probe.displayUrl}: ${probe.reason})`;
  const absent = !services.postgres.available || !services.redis.available;
  const fallback = absent ? '; workers that need a missing one are skipped, the others use the in-memory idempotency store' : '';
  return `services: ${one('PostgreSQL', services.postgres)}, ${one('Redis', services.redis)}${fallback}`;
}
