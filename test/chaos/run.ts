/**
 * `npm run chaos` (`--ci` for the short variant): the reference scenario of
 * topology/orders.yaml under fire. Producer and one process per consumer,
 * PostgreSQL recording every effect (test/chaos/workers/), while orders are
 * POSTed at a steady rate: a random worker SIGKILLed every few seconds and
 * restarted, the broker restarted once, the producer SIGKILLed once, 1% bad
 * orders. Then it counts everything and exits 1 on any mismatch. Runs on a
 * private RabbitMQ node unless --use-env-broker.
 *
 * `--cluster`: the same on a local three-node cluster of its own
 * (src/provision/cluster.ts), every process given all three nodes; instead
 * of the broker restart, the node leading the most queues is SIGKILLed and
 * restarted, and later (full run) another one. It also checks through the
 * management API that every consumer is subscribed again at the end, and
 * prints how long the producer answered 503 and how long each consumer had
 * no subscription. See the README (chaos).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePorts } from '../../src/broker/private-node.ts';
import { redactText } from '../../src/broker/urls.ts';
import { applyTopology } from '../../src/topology/apply.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { loadTopology } from '../../src/topology/load.ts';
import { clusterBroker, envBroker, privateBroker, type ChaosBroker } from './lib/broker.ts';
import { ChaosClient, type Outcome } from './lib/client.ts';
import { killEveryChild, ManagedProcess } from './lib/fleet.ts';
import { SubscriptionMonitor, type SubscriptionReport } from './lib/monitor.ts';
import { ALL_CONSUMERS, chaosNames } from './lib/names.ts';
import { startNodeFire, type NodeKill } from './lib/node-fire.ts';
import { parseChaosArgs, type ChaosOptions } from './lib/options.ts';
import { cancelledJob, createdJob, wantsCancel, type PlannedJob } from './lib/orders.ts';
import { managementConsumerCounts, QueueProbe } from './lib/queues.ts';
import { causeOf, summarizeRefusals, type SpellCause, type WindowSummary } from './lib/timeline.ts';
import { deadLetterOf, expectedDeadLetters, expectedEffects, subscribedAgainCheck, verifyRun, type Check, type DeadLetter } from './lib/verify.ts';

const TOPOLOGY = 'topology/orders.yaml';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const log = (message: string): void => void process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const options = parseChaosArgs(process.argv.slice(2));
  const run = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const names = chaosNames(run);
  // The producer refuses to start without API tokens: the run has one of its own.
  const token = randomBytes(16).toString('hex');
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
  let broker: ChaosBroker | undefined;
  let probe: QueueProbe | undefined;
  const processes: ManagedProcess[] = [];
  const logDir = join(tmpdir(), `warren-chaos-${run}-logs`);
  let ok = false;
  // Ctrl-C, a test timeout: exit through process.exit, so the exit guards
  // kill every child process and the cluster's nodes (or stop the private node).
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  process.once('exit', killEveryChild);
  try {
    log(`run ${run}: ${options.orders} orders at ${options.rate}/s${options.ci ? ' (CI variant)' : ''}${options.cluster ? `, three-node cluster, ${options.nodeKills} node kill(s)` : ''}`);
    broker = options.cluster ? await clusterBroker(log) : options.useEnvBroker ? await envBroker(run) : await privateBroker();
    log(`broker: ${broker.description}`);
    await db.query(
      `CREATE TABLE ${names.effectsTable} (applied bigserial, consumer text NOT NULL, job_id text NOT NULL, order_id text NOT NULL, event text NOT NULL, out_of_order boolean NOT NULL)`,
    );
    const { plan } = await loadTopology(TOPOLOGY);
    if (broker.cluster) {
      // As a user would: `warren topology apply` with every node listed.
      await applyTopology(plan, { amqpUrls: broker.amqpUrls, managementUrl: broker.managementUrls.join(',') });
      log(await describePlacement(broker));
    } else {
      await declarePlanAt(broker.amqpUrls[0] as string, plan);
    }
    const queuesOf = new Map(plan.consumers.map((c) => [c.name, c.queues]));
    const workQueues = [...queuesOf.values()].flat();
    const [port] = await freePorts(1);
    const env = {
      AMQP_URL: broker.amqpUrls.join(','),
      RABBITMQ_MANAGEMENT_URL: broker.managementUrls.join(','),
      DATABASE_URL,
      REDIS_URL,
      CHAOS_RUN: run,
      WARREN_API_TOKENS: `${token}:enqueue`,
    };
    mkdirSync(logDir, { recursive: true });
    const logOf = (name: string) => join(logDir, `${name}.log`);
    const producer = new ManagedProcess('producer', ['--import', 'tsx', 'bench/lib/serve-child.ts', TOPOLOGY, String(port)], env, logOf('producer'));
    const workers = ALL_CONSUMERS.map(
      (c) => new ManagedProcess(c, ['--import', 'tsx', 'bench/lib/worker-child.ts', TOPOLOGY, `test/chaos/workers/${c}.ts`], env, logOf(c)),
    );
    processes.push(producer, ...workers);
    for (const p of processes) p.start();
    const baseUrl = `http://127.0.0.1:${port}`;
    probe = new QueueProbe(broker.amqpUrls);
    const queues = probe;
    await waitUntil('the producer is ready', async () => (await fetch(`${baseUrl}/readyz`).catch(() => undefined))?.status === 200, 90_000);
    await waitUntil('every consumer queue has a consumer', async () => (await queues.stats(workQueues)).every((q) => (q.consumers ?? 0) > 0), 90_000);
    log('producer and 6 worker processes are up; posting');

    const client = new ChaosClient(baseUrl, token);
    const monitor = new SubscriptionMonitor(probe, queuesOf);
    monitor.start();
    const fire = startFire(options, broker, producer, workers, (worker) => monitor.isSubscribed(worker.name));
    const posted = await postOrders(options, run, client);
    await fire.stop();
    client.close();
    for (const p of processes) if (p.restartIfDead()) log(`${p.name} had died on its own; restarted`);
    log(`posted ${posted} jobs (${client.retries} client retries); draining`);

    const deadLetterTarget = expectedDeadLetters(client.outcomes.values());
    const effectTarget = expectedEffects(client.outcomes.values()).size;
    await drain(options, db, names.effectsTable, probe, plan.consumers.map((c) => c.deadLetter.queue), workQueues, effectTarget, deadLetterTarget);
    const subscriptions = await monitor.stop();
    const subscribed = broker.cluster ? subscribedAgainCheck(await subscribedAgain(broker, workQueues)) : undefined;
    for (const p of processes) await p.stop();

    const deadLetters = await readDeadLetters(broker.amqpUrls, ALL_CONSUMERS);
    const verified = await verifyRun({ posted, outcomes: client.outcomes, db, effectsTable: names.effectsTable, deadLetters });
    const checks: Check[] = [...verified.checks, ...(subscribed ? [subscribed] : [])];
    const runs = await handlerRuns(names.runsKey);
    const producer503 = summarizeRefusals(client.attempts, (status) => status === 503);
    const producerSilent = summarizeRefusals(client.attempts, (status) => status === 0);
    const summary = {
      ...verified.figures,
      handlerRuns: runs,
      workerKills: workers.reduce((n, w) => n + w.kills, 0),
      producerKills: producer.kills,
      brokerRestarts: fire.brokerRestarts(),
      nodeKills: fire.nodeKills().length,
      producer503Ms: producer503.totalMs,
      producerNoAnswerMs: producerSilent.totalMs,
    };
    const killedAt = new Map(workers.map((w) => [w.name, w.killedAt]));
    report(checks, summary, { producer503, producerSilent, subscriptions, killedAt, nodeKills: fire.nodeKills(), startedAt: monitor.startedAt });
    ok = checks.every((c) => c.ok);
    return ok ? 0 : 1;
  } finally {
    await Promise.allSettled(processes.map((p) => p.stop()));
    // Logs (the processes' own, at CHAOS_LOG_LEVEL, and the cluster nodes') stay only when something failed.
    if (ok) rmSync(logDir, { recursive: true, force: true });
    else {
      broker?.cluster?.copyLogs(join(logDir, 'nodes'));
      log(`logs of the run are in ${logDir}`);
    }
    await probe?.close();
    await db.query(`DROP TABLE IF EXISTS ${names.effectsTable}, ${names.idempotencyTable}`).catch(() => undefined);
    await db.end();
    await dropRedisKeys(names.redisPrefix);
    await broker?.close();
  }
}

/** One line: queue types and how many queues each node leads. */
async function describePlacement(broker: ChaosBroker): Promise<string> {
  const cluster = broker.cluster;
  if (cluster === undefined) return '';
  const queues = (await cluster.management.get<Array<{ type?: string }>>(`/queues/${encodeURIComponent(broker.vhost)}?columns=name,type`)) ?? [];
  const types = new Map<string, number>();
  for (const q of queues) types.set(q.type ?? 'classic', (types.get(q.type ?? 'classic') ?? 0) + 1);
  const leaders = await cluster.leaders(broker.vhost);
  return `topology applied: ${queues.length} queues (${[...types].map(([t, n]) => `${n} ${t}`).join(', ')}); leaders: ${leaders.map((l) => `${l.node.name} ${l.queues}`).join(', ')}`;
}

/**
 * The management API's consumer counts once the run is over; it lags the
 * queues by its statistics interval (5 to 10 s), so give it 30 s to show a
 * consumer on every work queue before calling one missing.
 */
async function subscribedAgain(broker: ChaosBroker, workQueues: readonly string[]): Promise<Map<string, number | undefined>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const counts = await managementConsumerCounts(broker.managementUrls, broker.vhost, workQueues).catch(() => new Map<string, number | undefined>());
    const complete = counts.size === workQueues.length && [...counts.values()].every((n) => n !== undefined && n > 0);
    if (complete || Date.now() > deadline) return counts.size > 0 ? counts : new Map(workQueues.map((q) => [q, undefined]));
    await sleep(1_000);
  }
}

/** POSTs every order at a steady rate; a cancellation follows its order's 202. Resolves with the number of jobs posted (counted apart from their outcomes). */
async function postOrders(options: ChaosOptions, run: string, client: ChaosClient): Promise<number> {
  const pending: Promise<unknown>[] = [];
  let posted = 0;
  const post = (job: PlannedJob): Promise<Outcome> => {
    posted++;
    return client.post(job);
  };
  const started = performance.now();
  for (let i = 0; i < options.orders; i++) {
    const due = started + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const index = i;
    const created = post(createdJob(run, index));
    pending.push(wantsCancel(index) ? created.then((outcome) => (outcome.accepted ? post(cancelledJob(run, index)) : outcome)) : created);
    if (i % Math.max(1, Math.round(options.orders / 10)) === 0 && i > 0) log(`posted ${i} orders, ${client.inFlight} in flight`);
  }
  await Promise.all(pending);
  return posted;
}

/**
 * The failures: worker SIGKILLs on a timer, one producer SIGKILL at 65%, and
 * on one node a broker restart at 35%; on a cluster node SIGKILLs instead
 * (lib/node-fire.ts).
 */
function startFire(
  options: ChaosOptions,
  broker: ChaosBroker,
  producer: ManagedProcess,
  workers: ManagedProcess[],
  consuming: (worker: ManagedProcess) => boolean,
) {
  const durationMs = (options.orders / options.rate) * 1000;
  let restarts = 0;
  const tasks: Promise<void>[] = [];
  // The victim is a worker that is consuming: killing one still starting up
  // (tens of seconds on a busy machine) would only keep it from ever working.
  const killer = setInterval(() => {
    const candidates = workers.filter(consuming);
    const victim = candidates[Math.floor(Math.random() * candidates.length)];
    if (victim === undefined) return;
    log(`SIGKILL worker ${victim.name}`);
    tasks.push(victim.killAndRestart(300));
  }, options.killEveryMs);
  const restart = broker.restart;
  const brokerTimer =
    restart === undefined
      ? undefined
      : setTimeout(() => {
          log('broker stop_app');
          tasks.push(
            restart(3_000).then(
              () => {
                restarts++;
                log('broker start_app done');
              },
              (error: unknown) => log(`broker restart failed: ${redactText(String(error))}`),
            ),
          );
        }, durationMs * 0.35);
  const nodes =
    broker.cluster === undefined
      ? undefined
      : startNodeFire({ cluster: broker.cluster, vhost: broker.vhost, durationMs, kills: options.nodeKills, downMs: options.nodeDownMs, log });
  if (nodes) tasks.push(nodes.done.catch((error: unknown) => log(`node kill failed: ${redactText(String(error))}`)));
  const producerTimer = setTimeout(() => {
    log('SIGKILL producer');
    tasks.push(producer.killAndRestart(500));
  }, durationMs * 0.65);
  return {
    brokerRestarts: () => restarts,
    nodeKills: (): NodeKill[] => nodes?.kills ?? [],
    async stop() {
      // Node kills already under way finish (the node is started again); none starts now.
      clearInterval(killer);
      clearTimeout(brokerTimer);
      clearTimeout(producerTimer);
      nodes?.cancel();
      await Promise.all(tasks);
    },
  };
}

async function drain(
  options: ChaosOptions,
  db: pg.Pool,
  table: string,
  probe: QueueProbe,
  dlqs: string[],
  workQueues: string[],
  effectTarget: number,
  deadLetterTarget: number,
): Promise<void> {
  const deadline = Date.now() + options.drainTimeoutMs;
  let lastLog = 0;
  // A queue that does not answer counts as not drained.
  const total = (stats: Array<{ messages: number | undefined }>) => stats.reduce((sum, q) => sum + (q.messages ?? Number.NaN), 0);
  while (Date.now() < deadline) {
    const rows = Number((await db.query<{ n: string }>(`SELECT count(DISTINCT (consumer, job_id)) AS n FROM ${table}`)).rows[0]?.n);
    const dead = total(await probe.stats(dlqs));
    const backlog = total(await probe.stats(workQueues));
    if (rows >= effectTarget && dead >= deadLetterTarget && backlog === 0) return;
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(`draining: ${rows}/${effectTarget} effects, ${dead}/${deadLetterTarget} dead letters, ${backlog} ready in work queues`);
    }
    await sleep(500);
  }
  log('drain timed out; checking what is there');
}

/** Empties every DLQ (the run's broker is thrown away), through the first node that answers. */
async function readDeadLetters(urls: readonly string[], consumers: readonly string[]): Promise<DeadLetter[]> {
  let lastError: unknown;
  for (const url of urls) {
    const connection = await connect(url).catch((error: unknown) => {
      lastError = error;
      return undefined;
    });
    if (connection === undefined) continue;
    try {
      const channel = await connection.createChannel();
      const letters: DeadLetter[] = [];
      for (const consumer of consumers) {
        for (;;) {
          const message = await channel.get(`${consumer}.dlq`, { noAck: true });
          if (message === false) break;
          letters.push(deadLetterOf(consumer, message.properties.messageId, message.properties.headers));
        }
      }
      return letters;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
  throw new Error(`no node answered to read the DLQs: ${redactText(String(lastError))}`);
}

async function handlerRuns(key: (consumer: string) => string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const values = await redis.mget(...ALL_CONSUMERS.map(key));
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  } finally {
    redis.disconnect();
  }
}

async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(250);
  }
}

interface Timings {
  producer503: WindowSummary;
  producerSilent: WindowSummary;
  subscriptions: SubscriptionReport[];
  /** Worker name → when it was SIGKILLed. */
  killedAt: ReadonlyMap<string, readonly number[]>;
  nodeKills: NodeKill[];
  /** When sampling began: times are printed relative to it. */
  startedAt: number;
}

function report(checks: readonly Check[], summary: Record<string, number>, timings: Timings): void {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const at = (ms: number) => `t+${((ms - timings.startedAt) / 1000).toFixed(1)}s`;
  const spells = (count: number, w: { totalMs: number; longestMs: number }) =>
    count === 0 ? 'never' : `${count} spell(s), ${seconds(w.totalMs)} in all, longest ${seconds(w.longestMs)}`;
  const lines = ['', 'chaos summary', ...Object.entries(summary).map(([k, v]) => `  ${k.padEnd(18)} ${v}`), '', 'timings'];
  for (const kill of timings.nodeKills) {
    lines.push(`  node ${kill.node} (leader of ${kill.ledQueues} queues) SIGKILLed at ${at(kill.down.start)}, running again after ${seconds(kill.down.end - kill.down.start)}`);
  }
  lines.push(`  producer answered 503: ${spells(timings.producer503.windows, timings.producer503)} (${timings.producer503.answers} answers)`);
  lines.push(`  producer did not answer: ${spells(timings.producerSilent.windows, timings.producerSilent)} (${timings.producerSilent.answers} tries)`);
  lines.push('  consumers without a subscription (sampled every 1 s; cause: its worker SIGKILLed, a node down, other):');
  const nodeDown = timings.nodeKills.map((k) => k.down);
  const byCause = new Map<string, Record<SpellCause, number>>();
  for (const s of timings.subscriptions) {
    const sums: Record<SpellCause, number> = { 'worker-kill': 0, 'node-loss': 0, other: 0 };
    const list = s.spells
      .map((w) => {
        const cause = causeOf(w, timings.killedAt.get(s.consumer) ?? [], nodeDown);
        sums[cause] += w.end - w.start;
        return `${at(w.start)} for ${seconds(w.end - w.start)} (${cause})`;
      })
      .join(', ');
    byCause.set(s.consumer, sums);
    lines.push(`    ${s.consumer.padEnd(15)} ${spells(s.spells.length, s)}${list ? `: ${list}` : ''}`);
  }
  lines.push('', 'checks');
  for (const check of checks) lines.push(`  ${check.ok ? 'ok    ' : 'FAILED'} ${check.name}: ${check.detail}`);
  const json = {
    ok: checks.every((c) => c.ok),
    ...summary,
    unsubscribedMs: Object.fromEntries(
      timings.subscriptions.map((s) => {
        const sums = byCause.get(s.consumer);
        return [
          s.consumer,
          { totalMs: s.totalMs, longestMs: s.longestMs, spells: s.spells.length, afterWorkerKillMs: sums?.['worker-kill'] ?? 0, afterNodeLossMs: sums?.['node-loss'] ?? 0, otherMs: sums?.other ?? 0 },
        ];
      }),
    ),
    nodeKillLog: timings.nodeKills.map((k) => ({ node: k.node, ledQueues: k.ledQueues, downMs: k.down.end - k.down.start })),
    checks,
  };
  process.stdout.write(`${lines.join('\n')}\n\nCHAOS SUMMARY ${JSON.stringify(json)}\n`);
}

// `--streams`: the partitioned-log scenario instead (test/chaos/streams.ts).
const entry = process.argv.includes('--streams')
  ? import('./streams.ts').then(({ streamsChaosMain }) => streamsChaosMain(process.argv.slice(2)))
  : main();
entry.then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos run failed: ${redactText(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    process.exit(2);
  },
);
