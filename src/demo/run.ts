import { randomBytes } from 'node:crypto';
import { redactText, redactUrl } from '../broker/urls.ts';
import { DlqBroker } from '../dlq/broker.ts';
import { listDeadLetters } from '../dlq/inspect.ts';
import type { ConsumerPlan } from '../topology/plan.ts';
import { fallbackAllowed } from '../broker/find-broker.ts';
import { takeSnapshot, type Snapshot } from '../up/snapshot.ts';
import { startUp, type UpSession } from '../up/session.ts';
import { loadTopology } from '../topology/load.ts';
import { buildOrderMix, SCENARIO, type DemoOrder } from './orders.ts';
import { interruption, progressLine } from './progress.ts';
import { isStreamScenario, runStreamDemo } from './stream-run.ts';
import { expectedDeliveries } from './routing.ts';
import { removeDemoRows } from './postgres-rows.ts';
import { sendJobs } from './send.ts';
import { renderSummary } from './summary.ts';
import { checkDemo, type ConsumerOutcome, type DemoFacts } from './verify.ts';

/**
 * `warren demo`: `up` in a fresh vhost, orders through the REST API, wait
 * until every queue is drained, check the counts, print the summary, and
 * clean up (the vhost, the broker if we started one). A topology whose
 * orders are events on a stream (topology/orders-stream.yaml) runs the
 * stream demo instead (stream-run.ts).
 */
export interface DemoOptions {
  topologyFile: string;
  orders: number;
  poison: number;
  timeoutMs: number;
  keep: boolean;
  /** Opens the session (the CLI maps a topology conflict to exit 3). */
  start: (open: () => Promise<UpSession>) => Promise<UpSession>;
  /** The summary. */
  out: (text: string) => void;
  /** Progress lines. */
  say: (line: string) => void;
  /** Progress redrawn on one line (a terminal) or printed every few seconds. */
  tty: boolean;
  /** Stream demo: the group it replays. @defaultValue analytics (else the first group running) */
  replayGroup?: string;
}

export interface DemoResult {
  ok: boolean;
  problems: string[];
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  if (isStreamScenario((await loadTopology(options.topologyFile)).plan)) return runStreamDemo(options);
  const id = randomBytes(3).toString('hex');
  // Listening from the start: a Ctrl-C while starting must still stop the
  // workers and a broker we started, once they are up.
  const interrupted = interruption();
  let session: UpSession;
  try {
    session = await options.start(() =>
      startUp({ topologyFile: options.topologyFile, vhost: `warren-demo-${id}`, fallback: fallbackAllowed(process.env, true), port: 0, host: '127.0.0.1', logLevel: process.env.LOG_LEVEL ?? 'warn', say: options.say }),
    );
  } catch (error) {
    interrupted.dispose();
    throw error;
  }
  let ok = false;
  let createdIds: string[] = [];
  try {
    if (interrupted.happened) return { ok: false, problems: ['interrupted (SIGINT/SIGTERM) while starting'] };
    if (session.skipped.some((s) => s.consumer === SCENARIO.poisonConsumer)) {
      options.say(`!! ${SCENARIO.poisonConsumer} is not running: the poison orders will wait in its queue, not its DLQ`);
    }
    const orders = buildOrderMix({ count: options.orders, poison: options.poison, runId: `demo-${id}`, seed: Number.parseInt(id, 16) });
    const started = Date.now();
    const sent = await sendOrders(session, orders, options);
    createdIds = sent.createdIds.filter((i) => i !== undefined);
    if (sent.refused.length > 0) {
      // Every demo job is valid: a refusal means the run is broken (auth,
      // limits), and the queues could never drain to the expected counts.
      options.say(`!! sending failed: ${sent.refused.length} of ${sent.sent} jobs refused (${sent.refused[0]}); not waiting for the queues to drain`);
      return { ok: false, problems: [`${sent.refused.length} of ${sent.sent} jobs were not accepted: ${sent.refused.slice(0, 3).join('; ')}`] };
    }
    const expected = expectedDeliveries(session.plan, new Map([['order.created', orders.length], ['order.cancelled', sent.cancelledCount]]));
    const running = new Set(session.workers.map((w) => w.consumer));
    const drainStart = Date.now();
    const drained = await waitUntilDrained(session, expected, running, options, interrupted);
    const facts = await collectFacts(session, { orders, sent, expected, running, drained });
    const problems = checkDemo(facts);
    if (interrupted.happened) problems.unshift('interrupted (SIGINT/SIGTERM)');
    options.out(
      renderSummary(facts, {
        orders: orders.length,
        cancelled: sent.cancelledCount,
        poison: orders.filter((o) => o.kind === 'poison').length,
        drainSeconds: (Date.now() - drainStart) / 1000,
        topologyFile: options.topologyFile,
        amqpUrl: redactUrl(session.amqpUrl),
        kept: options.keep,
        skipped: session.skipped,
      }, problems),
    );
    options.say(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s after startup`);
    ok = problems.length === 0;
    return { ok, problems };
  } finally {
    interrupted.dispose();
    options.say(options.keep ? `stopping (vhost ${session.vhost} kept)` : `stopping and deleting vhost ${session.vhost}`);
    // Logs are kept when something went wrong (or on --keep), to look into.
    const deleteLogs = ok && !options.keep;
    await session.stop({ deleteVhost: !options.keep, deleteLogs });
    if (!options.keep) await removeLoyaltyRows(session, `demo-${id}`, createdIds, options);
    if (!deleteLogs) options.say(`logs of the producer and the workers: ${session.logDir}`);
  }
}

/** The loyalty worker's ledger and idempotency rows of this run, when it ran on PostgreSQL. */
async function removeLoyaltyRows(session: UpSession, orderIdPrefix: string, jobIds: string[], options: DemoOptions): Promise<void> {
  const postgres = session.services.postgres;
  if (!postgres.available || !session.workers.some((w) => w.consumer === 'loyalty')) return;
  try {
    const removed = await removeDemoRows(postgres.url, orderIdPrefix, jobIds);
    options.say(`removed this run's ${removed} loyalty rows from PostgreSQL (${postgres.displayUrl})`);
  } catch (error) {
    options.say(`!! could not remove this run's loyalty rows from PostgreSQL: ${redactText(error instanceof Error ? error.message : String(error))}`);
  }
}

interface SentOrders {
  createdIds: Array<string | undefined>;
  cancelledCount: number;
  accepted: number;
  sent: number;
  refused: string[];
}

/** Every order.created first, then the cancellations, so a cancellation never overtakes its order. */
async function sendOrders(session: UpSession, orders: readonly DemoOrder[], options: DemoOptions): Promise<SentOrders> {
  const progress = progressLine(options);
  const cancellations = orders.flatMap((o) => (o.cancelled ? [o.cancelled] : []));
  const total = orders.length + cancellations.length;
  const token = session.token;
  const created = await sendJobs(session.producer.url, 'order.created', orders.map((o) => o.created), {
    ...(token !== undefined && { token }),
    onProgress: (n) => progress(`sending orders over REST: ${n}/${total} accepted`),
  });
  const cancelled = created.refused.length > 0 ? { ids: [], refused: [] } : await sendJobs(session.producer.url, 'order.cancelled', cancellations, {
    ...(token !== undefined && { token }),
    onProgress: (n) => progress(`sending orders over REST: ${orders.length + n}/${total} accepted`),
  });
  const accepted = [...created.ids, ...cancelled.ids].filter((i) => i !== undefined).length;
  progress(`sent ${total} jobs over REST: ${accepted} accepted (202)`, true);
  const refused = [...created.refused, ...cancelled.refused].map((r) => `#${r.index}: ${r.status} ${r.message}`);
  return { createdIds: created.ids, cancelledCount: cancellations.length, accepted, sent: total, refused };
}

/** Settled = processed, dead-lettered or skipped as a duplicate, for every job routed to a running consumer. */
async function waitUntilDrained(
  session: UpSession,
  expected: ReadonlyMap<string, number>,
  running: ReadonlySet<string>,
  options: DemoOptions,
  interrupted: { happened: boolean },
): Promise<boolean> {
  const progress = progressLine(options);
  const deadline = Date.now() + options.timeoutMs;
  const want = [...running].reduce((n, c) => n + (expected.get(c) ?? 0), 0);
  while (Date.now() < deadline && !interrupted.happened) {
    const snapshot = await takeSnapshot(session);
    const { settled, inFlight, retrying } = tally(snapshot, running);
    progress(`draining: ${settled}/${want} deliveries settled, ${inFlight} in flight, ${retrying} waiting in retry tiers`);
    if (settled >= want && inFlight === 0 && (await depthLeft(session, running)) === 0) {
      progress(`drained: ${settled}/${want} deliveries settled`, true);
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  progress('not drained', true);
  return false;
}

function tally(snapshot: Snapshot, running: ReadonlySet<string>): { settled: number; inFlight: number; retrying: number } {
  let settled = 0;
  let inFlight = 0;
  let retrying = 0;
  for (const status of snapshot.consumers.filter((c) => running.has(c.consumer))) {
    settled += status.counters.succeeded + status.counters.deadLettered + status.counters.duplicates;
    inFlight += status.counters.inFlight;
    retrying += status.retrying;
  }
  return { settled, inFlight, retrying };
}

/** Exact ready counts over AMQP (the management API samples only every few seconds). */
async function depthLeft(session: UpSession, running: ReadonlySet<string>): Promise<number> {
  const depths = await queueDepths(session, session.plan.consumers.filter((c) => running.has(c.name)));
  return [...depths.values()].reduce((sum, d) => sum + d.left, 0);
}

async function queueDepths(session: UpSession, consumers: readonly ConsumerPlan[]): Promise<Map<string, { left: number; dlqIds: string[] }>> {
  const broker = await DlqBroker.open(session.amqpUrls);
  try {
    const result = new Map<string, { left: number; dlqIds: string[] }>();
    for (const consumer of consumers) {
      let left = 0;
      for (const queue of [...consumer.queues, ...consumer.retry.tiers.map((t) => t.queue)]) left += await broker.depth(queue);
      const dlqDepth = await broker.depth(consumer.deadLetter.queue);
      const listing = dlqDepth > 0 ? await listDeadLetters(broker, consumer.deadLetter.queue, { limit: dlqDepth }) : undefined;
      result.set(consumer.name, { left, dlqIds: (listing?.messages ?? []).map((m) => m.id ?? '(no id)') });
    }
    return result;
  } finally {
    await broker.close();
  }
}

async function collectFacts(
  session: UpSession,
  input: { orders: readonly DemoOrder[]; sent: SentOrders; expected: ReadonlyMap<string, number>; running: ReadonlySet<string>; drained: boolean },
): Promise<DemoFacts> {
  const snapshot = await takeSnapshot(session);
  const depths = await queueDepths(session, session.plan.consumers);
  const poisonIds = input.orders.flatMap((o, i) => (o.kind === 'poison' && input.sent.createdIds[i] ? [input.sent.createdIds[i] as string] : []));
  const consumers: ConsumerOutcome[] = snapshot.consumers.map((status) => ({
    consumer: status.consumer,
    ran: input.running.has(status.consumer),
    routed: input.expected.get(status.consumer) ?? 0,
    counters: status.counters,
    left: depths.get(status.consumer)?.left ?? 0,
    dlqIds: depths.get(status.consumer)?.dlqIds ?? [],
    expectedDlqIds: status.consumer === SCENARIO.poisonConsumer ? poisonIds : [],
  }));
  return {
    sent: input.sent.sent,
    accepted: input.sent.accepted,
    refused: input.sent.refused,
    flaky: { consumer: SCENARIO.flakyConsumer, count: input.orders.filter((o) => o.kind === 'flaky').length },
    consumers,
    drained: input.drained,
  };
}
