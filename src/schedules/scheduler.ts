import { hostname } from 'node:os';
import type pg from 'pg';
import { redactText } from '../broker/urls.ts';
import { targetVhost } from '../broker/vhost.ts';
import { createJobClient, type JobClient } from '../client/job-client.ts';
import { loadConfig } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { requireInteger } from '../options.ts';
import type { SchedulePlan, TopologyPlan } from '../topology/plan.ts';
import { checkTablePrefix, DEFAULT_TABLE_PREFIX, ScheduleLedger } from './ledger.ts';
import { dueTicks, nextTick, tickJobId, type TickRow } from './rule.ts';

/**
 * Runs the topology's schedules. Any number of replicas may run: they
 * compete for one PostgreSQL session-level advisory lock (per vhost), the
 * holder is the leader and the only one that enqueues; the others retry the
 * lock every `standbyPollMs`. The lock lives as long as the leader's
 * database session, so a leader that dies (SIGKILL included) loses it when
 * PostgreSQL sees its connection close, and a standby takes over from the
 * ledger: the cursor says which ticks are handled, unconfirmed ticks are
 * published again under the same job id.
 */

export interface SchedulerOptions {
  plan: TopologyPlan;
  /** @defaultValue DATABASE_URL */
  databaseUrl?: string;
  /** @defaultValue AMQP_URL */
  amqpUrls?: string[];
  /** Tables `<prefix>_state` and `<prefix>_ticks`. @defaultValue 'warren_schedule' */
  tablePrefix?: string;
  /** How often a standby tries to become the leader. @defaultValue 1_000 */
  standbyPollMs?: number;
  /** Longest sleep of the leader between two looks at the clock. @defaultValue 1_000 */
  maxSleepMs?: number;
  /** Wait after a failed publish or a lost database session. @defaultValue 1_000 */
  retryMs?: number;
  /** Enqueued ticks are kept this long in the ledger. @defaultValue 7 days */
  retentionMs?: number;
  /** @defaultValue `<hostname>:<pid>` */
  replicaId?: string;
  logger?: Logger;
  /** Told of every tick whose job the broker confirmed. */
  onEnqueued?: (tick: TickRow & { republished: boolean }) => void;
}

export const SCHEDULER_DEFAULTS = { standbyPollMs: 1_000, maxSleepMs: 1_000, retryMs: 1_000, retentionMs: 7 * 86_400_000 } as const;

export const SchedulerState = { Idle: 'idle', Standby: 'standby', Leader: 'leader', Stopping: 'stopping', Stopped: 'stopped' } as const;
export type SchedulerState = (typeof SchedulerState)[keyof typeof SchedulerState];

const PRUNE_EVERY_MS = 3_600_000;
const QUERY_TIMEOUT_MS = 10_000;

export class Scheduler {
  private readonly schedules: readonly SchedulePlan[];
  private readonly databaseUrl: string;
  private readonly scope: string;
  private readonly prefix: string;
  private readonly replicaId: string;
  private readonly logger: Logger;
  private readonly timing: { standbyPollMs: number; maxSleepMs: number; retryMs: number; retentionMs: number };
  private readonly stopSignal = new AbortController();
  private currentState: SchedulerState = SchedulerState.Idle;
  private client: pg.Client | undefined;
  private jobs: JobClient | undefined;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private cursors = new Map<string, Date>();
  private lastPrune = 0;

  constructor(private readonly options: SchedulerOptions) {
    this.schedules = options.plan.schedules ?? [];
    const databaseUrl = options.databaseUrl ?? loadConfig().databaseUrl;
    if (databaseUrl === undefined || databaseUrl === '') {
      throw new RangeError('scheduler: a PostgreSQL URL is required (DATABASE_URL or --database-url): it holds the leader lock and the tick ledger');
    }
    this.databaseUrl = databaseUrl;
    this.scope = targetVhost(options.plan, options.amqpUrls ?? loadConfig().amqpUrls);
    this.prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
    this.replicaId = options.replicaId ?? `${hostname()}:${process.pid}`;
    this.logger = options.logger ?? createLogger('warren-scheduler');
    this.timing = {
      standbyPollMs: options.standbyPollMs ?? SCHEDULER_DEFAULTS.standbyPollMs,
      maxSleepMs: options.maxSleepMs ?? SCHEDULER_DEFAULTS.maxSleepMs,
      retryMs: options.retryMs ?? SCHEDULER_DEFAULTS.retryMs,
      retentionMs: options.retentionMs ?? SCHEDULER_DEFAULTS.retentionMs,
    };
    for (const [name, value] of Object.entries(this.timing)) requireInteger(name, value, 1);
    // Fails now on a bad prefix, not at the first lock.
    checkTablePrefix(this.prefix);
  }

  get state(): SchedulerState {
    return this.currentState;
  }

  /** Connects to the broker and starts competing for the lead. Resolves once running (as leader or standby). */
  async start(): Promise<void> {
    if (this.loop !== undefined) return;
    if (this.schedules.length === 0) this.logger.warn('the topology has no schedules: this scheduler has nothing to do');
    this.jobs = await createJobClient({ topology: this.options.plan, ...(this.options.amqpUrls && { amqpUrls: this.options.amqpUrls }), name: `warren-scheduler ${this.replicaId}` });
    this.currentState = SchedulerState.Standby;
    this.loop = this.run();
    this.logger.info({ replica: this.replicaId, schedules: this.schedules.map((s) => s.name), vhost: this.scope }, 'scheduler running (standby until it holds the lock)');
  }

  /** Stops enqueuing, lets the lock go (another replica takes over), closes. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.currentState = SchedulerState.Stopping;
      this.stopSignal.abort();
      await this.loop;
      await this.dropSession();
      await this.jobs?.close();
      this.currentState = SchedulerState.Stopped;
      this.logger.info({ replica: this.replicaId }, 'scheduler stopped');
    })();
    return this.stopping;
  }

  private async run(): Promise<void> {
    while (!this.stopSignal.signal.aborted) {
      if (this.currentState !== SchedulerState.Leader) {
        const leading = await this.tryToLead().catch((error: unknown) => {
          this.logger.warn({ err: redactText(String(error)) }, 'scheduler: cannot reach PostgreSQL');
          return false;
        });
        if (!leading) {
          await this.pause(this.timing.standbyPollMs);
          continue;
        }
      }
      try {
        const sleepMs = await this.lead();
        await this.pause(sleepMs);
      } catch (error) {
        if (this.stopSignal.signal.aborted) break;
        this.logger.warn({ err: redactText(error instanceof Error ? error.message : String(error)) }, 'scheduler: giving up the lead after a database error');
        await this.dropSession();
        await this.pause(this.timing.retryMs);
      }
    }
  }

  /** One session, one lock attempt; on success the ledger's cursors are read. */
  private async tryToLead(): Promise<boolean> {
    if (this.client === undefined) {
      // keepAlive + query_timeout: a leader cut off from PostgreSQL finds out instead of waiting on a dead socket.
      // Loaded here, not at import: `import … from 'warren'` opens (and loads) no database client.
      const { default: postgres } = await import('pg');
      const client = new postgres.Client({
        connectionString: this.databaseUrl,
        application_name: `warren-scheduler ${this.replicaId}`,
        keepAlive: true,
        query_timeout: QUERY_TIMEOUT_MS,
      });
      // A dropped session surfaces as an 'error' event: the lock is gone with it.
      client.on('error', (error) => {
        if (this.client !== client) return;
        this.logger.warn({ err: redactText(error.message) }, 'scheduler: database session lost');
        this.client = undefined;
        if (this.currentState === SchedulerState.Leader) this.currentState = SchedulerState.Standby;
      });
      this.client = client;
      try {
        await client.connect();
        // The server side of the same: a leader whose host vanished (no FIN, no RST) loses its session, and
        // so the lock, after about 10 + 3 × 5 s of silence instead of the kernel's default two hours.
        await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3');
      } catch (error) {
        await client.end().catch(() => undefined);
        this.client = undefined;
        throw error;
      }
    }
    const client = this.client;
    const locked = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [ScheduleLedger.lockKey(this.scope, this.prefix).toString()]);
    if (locked.rows[0]?.locked !== true) return false;
    try {
      const ledger = this.ledger();
      await ledger.createTables();
      this.cursors = await ledger.cursors(this.schedules.map((s) => s.name), new Date());
      this.currentState = SchedulerState.Leader;
      this.logger.info({ replica: this.replicaId }, 'scheduler: leading (holds the lock)');
      // Whatever the previous leader claimed and did not see confirmed goes out again, same ids.
      await this.publishAll(await ledger.takePending(this.replicaId), true);
      return true;
    } catch (error) {
      // Never sit on the lock without leading.
      await this.dropSession();
      throw error;
    }
  }

  /** Enqueues every due tick; returns how long to sleep until the next one. */
  private async lead(): Promise<number> {
    const ledger = this.ledger();
    const now = new Date();
    for (const schedule of this.schedules) {
      const cursor = this.cursors.get(schedule.name) ?? now;
      const due = dueTicks({ rule: schedule.rule, cursor, now, missed: schedule.missed, catchUpLimit: schedule.catchUpLimit, graceMs: schedule.graceMs });
      if (due.ticks.length === 0 && due.skipped === 0) {
        // Nothing to write: recomputing from the stored cursor gives the same answer.
        this.cursors.set(schedule.name, due.cursor);
        continue;
      }
      if (due.skipped > 0) {
        this.logger.warn({ schedule: schedule.name, skipped: due.skipped, policy: schedule.missed, catchUpLimit: schedule.catchUpLimit }, 'scheduler: missed ticks not enqueued');
      }
      const rows = due.ticks.map((tick) => ({ schedule: schedule.name, tick, jobId: tickJobId(schedule.name, tick) }));
      const claimed = await ledger.claim(schedule.name, rows, due.cursor, due.skipped, this.replicaId);
      this.cursors.set(schedule.name, due.cursor);
      await this.publishAll(claimed, false);
    }
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      const pruned = await ledger.prune(this.timing.retentionMs);
      if (pruned > 0) this.logger.info({ pruned }, 'scheduler: old ticks pruned from the ledger');
    }
    return this.untilNextTick();
  }

  /**
   * Publishes claimed ticks in order. A tick the broker does not confirm
   * stays pending in the ledger; the leader waits `retryMs` and takes the
   * pending ones again, keeping the lead (a broker outage is not a reason
   * to hand over).
   */
  private async publishAll(ticks: readonly TickRow[], republished: boolean): Promise<void> {
    const ledger = this.ledger();
    let pending = [...ticks];
    while (pending.length > 0 && !this.stopSignal.signal.aborted) {
      const failed = await this.publishInOrder(pending, ledger, republished);
      if (failed === undefined) return;
      this.logger.warn({ err: redactText(failed.message) }, 'scheduler: enqueue failed; retrying the pending ticks');
      await this.pause(this.timing.retryMs);
      pending = await ledger.takePending(this.replicaId);
      republished = true;
    }
  }

  private async publishInOrder(ticks: readonly TickRow[], ledger: ScheduleLedger, republished: boolean): Promise<Error | undefined> {
    const byName = new Map(this.schedules.map((s) => [s.name, s]));
    for (const tick of ticks) {
      const schedule = byName.get(tick.schedule);
      if (schedule === undefined) {
        // A schedule removed from the file while a tick of it was pending: nothing to enqueue any more.
        await ledger.markEnqueued(tick);
        continue;
      }
      try {
        await this.jobs?.enqueue(schedule.jobType, schedule.payload, {
          idempotencyKey: tick.jobId,
          headers: { 'warren-schedule': tick.schedule, 'warren-schedule-tick': tick.tick.toISOString() },
        });
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
      await ledger.markEnqueued(tick);
      this.logger.info({ schedule: tick.schedule, tick: tick.tick.toISOString(), jobId: tick.jobId, republished }, 'scheduled job enqueued');
      this.options.onEnqueued?.({ ...tick, republished });
    }
    return undefined;
  }

  private untilNextTick(): number {
    const now = new Date();
    let soonest = this.timing.maxSleepMs;
    for (const schedule of this.schedules) {
      const next = nextTick(schedule.rule, this.cursors.get(schedule.name) ?? now);
      if (next !== undefined) soonest = Math.min(soonest, Math.max(0, next.getTime() - now.getTime()));
    }
    return soonest;
  }

  private ledger(): ScheduleLedger {
    if (this.client === undefined) throw new Error('the database session is gone');
    return new ScheduleLedger(this.client, this.scope, this.prefix);
  }

  private async dropSession(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.currentState === SchedulerState.Leader) this.currentState = SchedulerState.Standby;
    // Closing the session releases the advisory lock.
    await client?.end().catch(() => undefined);
  }

  private pause(ms: number): Promise<void> {
    const signal = this.stopSignal.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
