import { randomBytes } from 'node:crypto';
import { redactText } from '../broker/urls.ts';
import { fallbackAllowed } from '../broker/find-broker.ts';
import { resetGroup, streamsOverview, type AdminContext, type PartitionStatus } from '../streams/group-admin.ts';
import { parseResetTarget } from '../streams/reset-target.ts';
import type { StreamPlan } from '../streams/stream-plan.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { startUp, type UpSession } from '../up/session.ts';
import { buildOrderMix } from './orders.ts';
import type { DemoOptions, DemoResult } from './run.ts';
import { interruption, progressLine } from './progress.ts';
import { sendEvents, type EventToSend } from './send-events.ts';
import { StreamLedger } from './stream-ledger.ts';
import { renderStreamSummary, type StreamSummary } from './stream-summary.ts';
import {
  checkExactlyOnce,
  checkKeyOrder,
  checkReplay,
  checkUntouched,
  expectedReplay,
  partitionsCaughtUp,
  replayPoint,
  type LedgerRow,
  type RestartPoint,
  type SentEvent,
} from './stream-verify.ts';

/**
 * `warren demo` on a topology with streams and events (topology/orders-stream.yaml):
 * `up` in a fresh vhost, which starts one worker process per
 * `workers/<stream>.<group>.ts` (a member of each consumer group); order
 * events over `POST /v1/events` in two waves a couple of seconds apart;
 * wait until every group has committed everything; check the ledger the
 * groups wrote through `ctx.tx` (exactly once, per-key order); then reset
 * one group to "N s ago" (the gap between the waves), wait for it to catch
 * up, and check it re-applied exactly the second wave while the other
 * groups did not move. Cleans up the vhost, this run's ledger rows and its
 * group tables (a table prefix of its own, so runs never share offsets).
 */

/** A topology the stream demo runs: events published to a stream. */
export function isStreamScenario(plan: TopologyPlan): boolean {
  return (plan.events ?? []).some((event) => event.type === 'order.created') && (plan.streams ?? []).length > 0;
}

export async function runStreamDemo(options: DemoOptions): Promise<DemoResult> {
  const id = randomBytes(3).toString('hex');
  const runId = `demo-${id}`;
  const tablePrefix = `warren_demo_${id}_`;
  const interrupted = interruption();
  let session: UpSession;
  try {
    session = await options.start(() =>
      startUp({
        topologyFile: options.topologyFile,
        vhost: `warren-demo-${id}`,
        fallback: fallbackAllowed(process.env, true),
        port: 0,
        host: '127.0.0.1',
        logLevel: process.env.LOG_LEVEL ?? 'warn',
        // The group members (child processes) keep their offsets under this run's prefix.
        env: { ...process.env, WARREN_STREAM_TABLE_PREFIX: tablePrefix },
        say: options.say,
      }),
    );
  } catch (error) {
    interrupted.dispose();
    throw error;
  }
  const postgres = session.services.postgres;
  const databaseUrl = postgres.available ? postgres.url : undefined;
  const ledger = databaseUrl === undefined ? undefined : new StreamLedger(databaseUrl, runId);
  let ok = false;
  try {
    if (interrupted.happened) return { ok: false, problems: ['interrupted (SIGINT/SIGTERM) while starting'] };
    if (ledger === undefined || databaseUrl === undefined) {
      const problem = `the stream demo needs PostgreSQL (group offsets and the ledger live there): ${postgres.displayUrl}: ${postgres.available ? '' : postgres.reason}`;
      options.say(`!! ${problem}`);
      return { ok: false, problems: [problem] };
    }
    const stream = streamOf(session.plan);
    const groups = session.workers.filter((w) => w.consumer.startsWith(`${stream.name}.`)).map((w) => w.consumer.slice(stream.name.length + 1));
    const skipped = session.skipped.filter((s) => s.consumer.startsWith(`${stream.name}.`));
    if (groups.length === 0) {
      const problem = `no consumer group of ${stream.name} is running (looked for workers/${stream.name}.<group>.ts)`;
      return { ok: false, problems: [problem, ...skipped.map((s) => `${s.consumer}: ${s.reason}`)] };
    }
    const replayGroup = options.replayGroup ?? (groups.includes('analytics') ? 'analytics' : (groups[0] as string));
    if (!groups.includes(replayGroup)) return { ok: false, problems: [`--replay-group ${replayGroup} is not running (groups: ${groups.join(', ')})`] };
    const context: AdminContext = { plan: session.plan, amqpUrls: session.amqpUrls, databaseUrl, tablePrefix };
    const run = new StreamRun(session, options, ledger, context, stream, groups, interrupted);
    const outcome = await run.play(runId, Number.parseInt(id, 16), replayGroup);
    const summary: StreamSummary = { ...outcome.summary, skipped, tablePrefix, kept: options.keep, topologyFile: options.topologyFile };
    if (interrupted.happened) outcome.problems.unshift('interrupted (SIGINT/SIGTERM)');
    options.out(renderStreamSummary(summary, outcome.problems));
    ok = outcome.problems.length === 0;
    return { ok, problems: outcome.problems };
  } finally {
    interrupted.dispose();
    options.say(options.keep ? `stopping (vhost ${session.vhost} and tables ${tablePrefix}* kept)` : `stopping and deleting vhost ${session.vhost}`);
    const deleteLogs = ok && !options.keep;
    // Members leave their groups first; only then are their tables dropped.
    await session.stop({ deleteVhost: !options.keep, deleteLogs });
    if (ledger !== undefined && !options.keep) {
      try {
        const removed = await ledger.remove(tablePrefix);
        options.say(`removed this run's ${removed} ledger rows and its group tables ${tablePrefix}stream_* from PostgreSQL (${postgres.displayUrl})`);
      } catch (error) {
        options.say(`!! could not remove this run's rows from PostgreSQL: ${redactText(error instanceof Error ? error.message : String(error))}`);
      }
    }
    await ledger?.close();
    if (!deleteLogs) options.say(`logs of the producer and the workers: ${session.logDir}`);
  }
}

function streamOf(plan: TopologyPlan): StreamPlan {
  const event = (plan.events ?? []).find((e) => e.type === 'order.created');
  const stream = (plan.streams ?? []).find((s) => s.name === event?.stream);
  if (stream === undefined) throw new Error('the topology has no stream for order.created');
  return stream;
}

type Outcome = { summary: Omit<StreamSummary, 'skipped' | 'tablePrefix' | 'kept' | 'topologyFile'>; problems: string[] };

/** One run of the scenario on a started session. */
class StreamRun {
  private readonly progress: (text: string, final?: boolean) => void;

  constructor(
    private readonly session: UpSession,
    private readonly options: DemoOptions,
    private readonly ledger: StreamLedger,
    private readonly context: AdminContext,
    private readonly stream: StreamPlan,
    private readonly groups: readonly string[],
    private readonly interrupted: { happened: boolean },
  ) {
    this.progress = progressLine(options);
  }

  async play(runId: string, seed: number, replayGroup: string): Promise<Outcome> {
    const problems: string[] = [];
    const orders = buildOrderMix({ count: this.options.orders, poison: 0, flakyShare: 0, runId, seed });
    const created: EventToSend[] = orders.map((o) => ({ id: `${o.created.orderId}.created`, type: 'order.created', payload: o.created }));
    const cancelled: EventToSend[] = orders.flatMap((o) => (o.cancelled ? [{ id: `${o.cancelled.orderId}.cancelled`, type: 'order.cancelled', payload: o.cancelled }] : []));
    const half = Math.ceil(created.length / 2);
    const total = created.length + cancelled.length;
    const started = Date.now();
    const sentIds: string[] = [];
    const refused: string[] = [];
    const send = async (events: EventToSend[], label: string) => {
      const before = sentIds.length;
      const result = await sendEvents(this.session.producer.url, events, {
        ...(this.session.token !== undefined && { token: this.session.token }),
        onProgress: (n) => this.progress(`publishing ${label} over POST /v1/events: ${before + n}/${total} accepted`),
      });
      sentIds.push(...result.accepted);
      refused.push(...result.refused.map((r) => `${r.id}: ${r.status} ${r.message}`));
    };
    // Wave 1: the first half of the orders. Then a whole second with no
    // publish (timestamps are whole seconds), so "N s ago" can fall between the waves.
    await send(created.slice(0, half), 'wave 1');
    const gapStart = Date.now();
    const secondWaveFrom = Math.floor(gapStart / 1000) * 1000 + 2_000;
    this.progress(`wave 1 published; wave 2 at ${new Date(secondWaveFrom).toISOString()} (a whole second later, so a reset can fall between them)`, true);
    await sleep(secondWaveFrom - Date.now());
    // A cancellation after every creation, so it never overtakes its order.
    await send(created.slice(half), 'wave 2');
    await send(cancelled, 'wave 2');
    this.progress(`published ${total} events in two waves: ${sentIds.length} accepted (202), ${((Date.now() - started) / 1000).toFixed(1)} s with the pause between them`, true);
    if (refused.length > 0) problems.push(`${refused.length} of ${total} events were not accepted: ${refused.slice(0, 3).join('; ')}`);
    const accepted = new Set(sentIds);
    const sent: SentEvent[] = [...created, ...cancelled].filter((e) => accepted.has(e.id)).map((e) => ({ id: e.id, type: e.type, orderId: (e.payload as { orderId: string }).orderId }));
    const firstWave = new Set(created.slice(0, half).map((c) => c.id));
    const secondWave = sent.filter((e) => !firstWave.has(e.id)).length;

    const caughtUp = await this.waitFor(this.groups, new Map(this.groups.map((g) => [g, sent.length])), 'consuming');
    const consumedSeconds = caughtUp ? (Date.now() - started) / 1000 : undefined;
    if (!caughtUp) problems.push(`the groups did not commit all ${sent.length} events within ${this.options.timeoutMs / 1000} s`);

    const before = new Map<string, LedgerRow[]>();
    const counts: StreamSummary['groups'][number][] = [];
    const statusBefore = await this.status();
    for (const group of this.groups) {
      const rows = await this.ledger.rows(group);
      before.set(group, rows);
      const once = checkExactlyOnce(group, sent, rows);
      const order = checkKeyOrder(group, rows);
      problems.push(...once.problems, ...order);
      counts.push({ ...once.count, orderHeld: order.length === 0, lag: lagOf(statusBefore.get(group)) });
    }
    const base = { stream: this.stream.name, partitions: this.stream.partitions, sent: total, accepted: sent.length, created: created.length, cancelled: cancelled.length, consumedSeconds, groups: counts };
    if (this.interrupted.happened || !caughtUp) return { summary: { ...base, replay: undefined }, problems };

    // The replay: the same reset as `warren stream reset --group <g> --to "<N>s ago"`.
    const now = Date.now();
    const to = `${Math.max(1, Math.ceil((now - secondWaveFrom) / 1000))}s ago`;
    const reset = await resetGroup(this.context, this.stream, replayGroup, parseResetTarget(to, new Date(now)), { dryRun: false });
    const restart = new Map<number, RestartPoint>(reset.map((row) => [row.partition, row.restartAt]));
    for (const row of reset) this.options.say(`reset ${replayGroup} partition ${row.partition}: committed ${row.committed ?? 'none'} → ${row.newCommitted}, ${replayPoint(row.restartAt)}`);
    const expected = expectedReplay(before.get(replayGroup) ?? [], restart);
    const replayStarted = Date.now();
    const replayed = await this.waitFor([replayGroup], new Map([[replayGroup, sent.length + expected.size]]), `replaying ${replayGroup}`);
    if (!replayed) problems.push(`${replayGroup} did not catch up after the reset within ${this.options.timeoutMs / 1000} s`);
    const statusAfter = await this.status();
    const after = await this.ledger.rows(replayGroup);
    const replay = checkReplay(replayGroup, after, expected);
    problems.push(...replay.problems);
    const others = this.groups.filter((g) => g !== replayGroup);
    for (const group of others) {
      problems.push(
        ...checkUntouched(
          group,
          { rows: before.get(group) ?? [], committed: committedOf(statusBefore.get(group)) },
          { rows: await this.ledger.rows(group), committed: committedOf(statusAfter.get(group)) },
        ),
      );
    }
    return {
      summary: {
        ...base,
        replay: {
          group: replayGroup,
          to,
          restart: reset.map((row) => ({ partition: row.partition, restartAt: row.restartAt, ...(row.firstTimestamp !== undefined && { firstTimestamp: row.firstTimestamp }) })),
          reapplied: replay.reapplied,
          expected: replay.expected,
          secondWave,
          secondWaveFrom: new Date(secondWaveFrom).toISOString(),
          caughtUpSeconds: replayed ? (Date.now() - replayStarted) / 1000 : undefined,
          untouched: others,
        },
      },
      problems,
    };
  }

  /** Until each group's ledger holds `applications` and every partition is committed to its end. */
  private async waitFor(groups: readonly string[], target: ReadonlyMap<string, number>, label: string): Promise<boolean> {
    const deadline = Date.now() + this.options.timeoutMs;
    while (Date.now() < deadline && !this.interrupted.happened) {
      const counts = await this.ledger.counts();
      const text = groups.map((g) => `${g} ${counts.get(g)?.applications ?? 0}/${target.get(g) ?? 0}`).join(', ');
      this.progress(`${label}: ${text}`);
      if (groups.every((g) => (counts.get(g)?.applications ?? 0) >= (target.get(g) ?? 0))) {
        const status = await this.status();
        if (groups.every((g) => partitionsCaughtUp(status.get(g) ?? []))) {
          this.progress(`${label}: done (${text}, every partition committed to its end)`, true);
          return true;
        }
      }
      await sleep(500);
    }
    this.progress(`${label}: not done`, true);
    return false;
  }

  private async status(): Promise<Map<string, PartitionStatus[]>> {
    const [overview] = (await streamsOverview(this.context)).filter((o) => o.stream === this.stream.name);
    return new Map((overview?.groups ?? []).map((g) => [g.group, g.partitions]));
  }
}

function lagOf(partitions: readonly PartitionStatus[] | undefined): number | null {
  if (partitions === undefined) return null;
  return partitions.reduce<number | null>((sum, p) => (sum === null ? null : p.end === undefined ? sum : p.lag === null ? null : sum + p.lag), 0);
}

function committedOf(partitions: readonly PartitionStatus[] | undefined): Array<number | null> {
  return (partitions ?? []).map((p) => p.committed);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
