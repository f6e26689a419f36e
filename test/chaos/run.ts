/**
 * `npm run chaos` (`--ci` for the short variant): the reference scenario of
 * topology/orders.yaml under fire. Producer and one process per consumer,
 * PostgreSQL recording every effect (test/chaos/workers/), while orders are
 * POSTed at a steady rate: a random worker SIGKILLed every few seconds and
 * restarted, the broker restarted once, the producer SIGKILLed once, 1% bad
 * orders. Then it counts everything and exits 1 on any mismatch. Runs on a
 * private RabbitMQ node unless --use-env-broker. See the README (chaos).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePorts } from '../../src/broker/private-node.ts';
import { redactText } from '../../src/broker/urls.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { loadTopology } from '../../src/topology/load.ts';
import { envBroker, privateBroker, type ChaosBroker } from './lib/broker.ts';
import { ChaosClient, type Outcome } from './lib/client.ts';
import { ManagedProcess } from './lib/fleet.ts';
import { ALL_CONSUMERS, chaosNames } from './lib/names.ts';
import { parseChaosArgs, type ChaosOptions } from './lib/options.ts';
import { cancelledJob, createdJob, wantsCancel, type PlannedJob } from './lib/orders.ts';
import { deadLetterOf, expectedDeadLetters, expectedEffects, verifyRun, type DeadLetter } from './lib/verify.ts';

const TOPOLOGY = 'topology/orders.yaml';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const log = (message: string): void => void process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const options = parseChaosArgs(process.argv.slice(2));
  const run = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const names = chaosNames(run);
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
  let broker: ChaosBroker | undefined;
  const processes: ManagedProcess[] = [];
  try {
    log(`run ${run}: ${options.orders} orders at ${options.rate}/s${options.ci ? ' (CI variant)' : ''}`);
    broker = options.useEnvBroker ? await envBroker(run) : await privateBroker();
    log(`broker: ${broker.description}`);
    await db.query(
      `CREATE TABLE ${names.effectsTable} (applied bigserial, consumer text NOT NULL, job_id text NOT NULL, order_id text NOT NULL, event text NOT NULL, out_of_order boolean NOT NULL)`,
    );
    const { plan } = await loadTopology(TOPOLOGY);
    await declarePlanAt(broker.amqpUrl, plan);
    const workQueues = plan.consumers.flatMap((c) => c.queues);
    const [port] = await freePorts(1);
    const env = { AMQP_URL: broker.amqpUrl, RABBITMQ_MANAGEMENT_URL: broker.managementUrl, DATABASE_URL, REDIS_URL, CHAOS_RUN: run };
    const producer = new ManagedProcess('producer', ['--import', 'tsx', 'bench/lib/serve-child.ts', TOPOLOGY, String(port)], env);
    const workers = ALL_CONSUMERS.map((c) => new ManagedProcess(c, ['--import', 'tsx', 'bench/lib/worker-child.ts', TOPOLOGY, `test/chaos/workers/${c}.ts`], env));
    processes.push(producer, ...workers);
    for (const p of processes) p.start();
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitUntil('the producer is ready', async () => (await fetch(`${baseUrl}/readyz`).catch(() => undefined))?.status === 200, 60_000);
    await waitUntil('every consumer queue has a consumer', async () => (await queueStats(broker as ChaosBroker, workQueues)).every((q) => q.consumers > 0), 60_000);
    log('producer and 6 worker processes are up; posting');

    const client = new ChaosClient(baseUrl);
    const fire = startFire(options, broker, producer, workers);
    const posted = await postOrders(options, run, client);
    await fire.stop();
    client.close();
    for (const p of processes) if (p.restartIfDead()) log(`${p.name} had died on its own; restarted`);
    log(`posted ${posted} jobs (${client.retries} client retries); draining`);

    const deadLetterTarget = expectedDeadLetters(client.outcomes.values());
    const effectTarget = expectedEffects(client.outcomes.values()).size;
    await drain(options, db, names.effectsTable, broker, plan.consumers.map((c) => c.deadLetter.queue), workQueues, effectTarget, deadLetterTarget);
    for (const p of processes) await p.stop();

    const deadLetters = await readDeadLetters(broker.amqpUrl, ALL_CONSUMERS);
    const { checks, figures } = await verifyRun({ posted, outcomes: client.outcomes, db, effectsTable: names.effectsTable, deadLetters });
    const runs = await handlerRuns(names.runsKey);
    const summary = { ...figures, handlerRuns: runs, workerKills: workers.reduce((n, w) => n + w.kills, 0), producerKills: producer.kills, brokerRestarts: fire.brokerRestarts() };
    report(checks, summary);
    return checks.every((c) => c.ok) ? 0 : 1;
  } finally {
    await Promise.allSettled(processes.map((p) => p.stop()));
    await db.query(`DROP TABLE IF EXISTS ${names.effectsTable}, ${names.idempotencyTable}`).catch(() => undefined);
    await db.end();
    await dropRedisKeys(names.redisPrefix);
    await broker?.close();
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

/** The failures: worker SIGKILLs on a timer, one broker restart at 35% of the run, one producer SIGKILL at 65%. */
function startFire(options: ChaosOptions, broker: ChaosBroker, producer: ManagedProcess, workers: ManagedProcess[]) {
  const durationMs = (options.orders / options.rate) * 1000;
  let restarts = 0;
  const tasks: Promise<void>[] = [];
  const killer = setInterval(() => {
    const victim = workers[Math.floor(Math.random() * workers.length)] as ManagedProcess;
    log(`SIGKILL worker ${victim.name}`);
    tasks.push(victim.killAndRestart(300));
  }, options.killEveryMs);
  const brokerTimer = setTimeout(() => {
    log('broker stop_app');
    tasks.push(
      broker.restart(3_000).then(
        () => {
          restarts++;
          log('broker start_app done');
        },
        (error: unknown) => log(`broker restart failed: ${redactText(String(error))}`),
      ),
    );
  }, durationMs * 0.35);
  const producerTimer = setTimeout(() => {
    log('SIGKILL producer');
    tasks.push(producer.killAndRestart(500));
  }, durationMs * 0.65);
  return {
    brokerRestarts: () => restarts,
    async stop() {
      clearInterval(killer);
      clearTimeout(brokerTimer);
      clearTimeout(producerTimer);
      await Promise.all(tasks);
    },
  };
}

async function drain(
  options: ChaosOptions,
  db: pg.Pool,
  table: string,
  broker: ChaosBroker,
  dlqs: string[],
  workQueues: string[],
  effectTarget: number,
  deadLetterTarget: number,
): Promise<void> {
  const deadline = Date.now() + options.drainTimeoutMs;
  let lastLog = 0;
  while (Date.now() < deadline) {
    const rows = Number((await db.query<{ n: string }>(`SELECT count(DISTINCT (consumer, job_id)) AS n FROM ${table}`)).rows[0]?.n);
    const dead = (await queueStats(broker, dlqs)).reduce((sum, q) => sum + q.messages, 0);
    const backlog = (await queueStats(broker, workQueues)).reduce((sum, q) => sum + q.messages, 0);
    if (rows >= effectTarget && dead >= deadLetterTarget && backlog === 0) return;
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(`draining: ${rows}/${effectTarget} effects, ${dead}/${deadLetterTarget} dead letters, ${backlog} ready in work queues`);
    }
    await sleep(500);
  }
  log('drain timed out; checking what is there');
}

async function queueStats(broker: ChaosBroker, queues: readonly string[]): Promise<Array<{ messages: number; consumers: number }>> {
  const connection = await connect(broker.amqpUrl).catch(() => undefined);
  if (connection === undefined) return queues.map(() => ({ messages: -1, consumers: 0 }));
  try {
    const channel = await connection.createChannel();
    const stats = [];
    for (const queue of queues) {
      const q = await channel.checkQueue(queue);
      stats.push({ messages: q.messageCount, consumers: q.consumerCount });
    }
    return stats;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function readDeadLetters(url: string, consumers: readonly string[]): Promise<DeadLetter[]> {
  const connection = await connect(url);
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
    await connection.close();
  }
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

function report(checks: ReadonlyArray<{ name: string; ok: boolean; detail: string }>, summary: Record<string, number>): void {
  const lines = ['', 'chaos summary', ...Object.entries(summary).map(([k, v]) => `  ${k.padEnd(18)} ${v}`), '', 'checks'];
  for (const check of checks) lines.push(`  ${check.ok ? 'ok    ' : 'FAILED'} ${check.name}: ${check.detail}`);
  process.stdout.write(`${lines.join('\n')}\n\nCHAOS SUMMARY ${JSON.stringify({ ok: checks.every((c) => c.ok), ...summary, checks })}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos run failed: ${redactText(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    process.exit(2);
  },
);
