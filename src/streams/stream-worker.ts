import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { IdempotencyTransaction } from '../idempotency/store.ts';
import type { Registry } from 'prom-client';
import { streamWorkerMetrics } from './stream-metrics.ts';
import { backoffDelay } from '../broker/backoff.ts';
import { sleep } from '../worker/sleep.ts';
import { StreamConnection, type StreamRecord, type StreamStart, type StreamSubscription } from '../broker/stream-consumer.ts';
import { urlsForVhost } from '../broker/vhost.ts';
import type { Logger } from '../log.ts';
import { deadLetterHeaders, HEADERS } from '../message/headers.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { FencedError } from './errors.ts';
import { groupDeadLetterQueue, replayedForGroup, STREAM_HEADERS } from './group-dlq.ts';
import { GroupStore, type GroupKey, type OwnedPartition } from './group-store.ts';
import type { StreamPlan } from './stream-plan.ts';
import { brandStreamWorker } from './stream-worker-brand.ts';

/**
 * Consumer groups on a partitioned stream. Every member of a group
 * heartbeats into PostgreSQL and rebalances (deterministically) on each
 * tick; it consumes the partitions it owns, from the group's committed
 * offset. A batch's effects (through `ctx.tx`) and the group's new offset
 * commit in ONE transaction whose offset UPDATE checks the member's
 * generation for that partition: a member that lost the partition (its
 * heartbeat expired, it was paused, the group was reset) cannot commit, and
 * stops consuming it. The deliveries are acked only after the commit (acks
 * are flow control on a stream). A crash anywhere re-reads the batch from
 * the committed offset and applies it once.
 */

export { groupDeadLetterQueue, STREAM_HEADERS } from './group-dlq.ts';

export interface EventRecord<Payload = unknown> {
  stream: string;
  partition: number;
  offset: number;
  /** The event's partition key. */
  key: string | undefined;
  /** The event type. */
  type: string | undefined;
  /** The message id (the idempotency key when the publisher gave one). */
  id: string | undefined;
  payload: Payload;
  /** When it was published (seconds precision: the AMQP timestamp). */
  timestamp: Date | undefined;
  headers: Record<string, unknown>;
  /**
   * Set on a record replayed from this group's DLQ (`warren dlq replay
   * <stream>.<group>.dlq`): the offset, in this partition, of the record it
   * was dead-lettered from. The record keeps its `id`.
   */
  replayOf?: { offset: number };
}

export interface BatchContext {
  /**
   * `commit: 'with-effects'` (default): the transaction the group's offset
   * commits in — write effects through it (exactly once). `commit:
   * 'after-batch'`: a plain connection, each statement commits on its own;
   * the offset commits after the handler returns (at-least-once).
   */
  tx: IdempotencyTransaction;
  stream: string;
  group: string;
  partition: number;
  generation: number;
  member: string;
}

export interface StreamWorkerDefinition<Payload = unknown> {
  stream: string;
  group: string;
  batch?: { size?: number; maxWaitMs?: number };
  /** Where a group with no committed offset starts. @defaultValue 'first' */
  startAt?: 'first' | 'last' | 'next';
  /**
   * In-place attempts of a failing batch, with backoff. When a batch keeps
   * failing, its records are tried one by one (each with these attempts);
   * a record that still fails is a poison record: copied with its failure
   * context to the group's DLQ `<stream>.<group>.dlq`, its offset committed,
   * and the partition goes on. @defaultValue { attempts: 5, initialBackoffMs: 100, maxBackoffMs: 5000 }
   */
  retry?: { attempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
  /**
   * `with-effects` (default): the handler runs inside the transaction that
   * commits the offset — effects in PostgreSQL are applied exactly once.
   * `after-batch`: the handler runs outside any transaction (no connection
   * held idle in a transaction while it calls other systems), and the offset
   * commits afterwards in its own fenced transaction — at-least-once: a crash
   * or a fence between the two re-delivers the batch.
   */
  commit?: 'with-effects' | 'after-batch';
  handleBatch(records: ReadonlyArray<EventRecord<Payload>>, ctx: BatchContext): Promise<void>;
}

export function defineStreamWorker<Payload = unknown>(definition: StreamWorkerDefinition<Payload>): StreamWorkerDefinition<Payload> {
  if (definition.stream === '' || definition.group === '') throw new Error('a stream worker needs a stream and a group');
  const size = definition.batch?.size ?? 100;
  if (!Number.isInteger(size) || size < 1) throw new Error('batch.size must be a positive integer');
  return brandStreamWorker(definition);
}

export type StreamWorkerEvent =
  | { kind: 'assigned'; partition: number; generation: number; committed: number | null }
  | { kind: 'revoked'; partition: number; generation: number }
  | { kind: 'committed'; partition: number; generation: number; offset: number; records: number }
  | { kind: 'fenced'; partition: number; generation: number }
  | { kind: 'retention-loss'; partition: number; committed: number; firstAvailable: number }
  | { kind: 'batch-failed'; partition: number; attempt: number; error: Error }
  | { kind: 'dead-lettered'; partition: number; offset: number; queue: string; error: Error }
  | { kind: 'tick-failed'; error: Error };

export interface StreamWorkerOptions {
  plan: TopologyPlan;
  amqpUrls: string[];
  databaseUrl: string;
  /** Table prefix of the group tables. @defaultValue 'warren_' */
  tablePrefix?: string;
  /** @defaultValue `<hostname>:<pid>:<random>` */
  memberId?: string;
  /** How often the member heartbeats and rebalances. @defaultValue 1_000 */
  heartbeatMs?: number;
  /** A member silent this long is removed and its partitions move. @defaultValue 10_000 */
  sessionTimeoutMs?: number;
  /** Unacked deliveries per partition. @defaultValue 2 × batch size */
  prefetch?: number;
  logger?: Logger;
  onEvent?: (event: StreamWorkerEvent) => void;
  /** Registers the member's `warren_stream_*` metrics here (see stream-metrics.ts). */
  metricsRegistry?: Registry;
}

export interface RunningStreamWorker {
  readonly memberId: string;
  /** Partitions this member consumes right now. */
  owned(): number[];
  /** Leaves the group cleanly: stops reading, finishes the batches in flight, hands its partitions over at once. */
  stop(): Promise<void>;
}

export async function startStreamWorker<Payload>(
  definition: StreamWorkerDefinition<Payload>,
  options: StreamWorkerOptions,
): Promise<RunningStreamWorker> {
  const stream = options.plan.streams?.find((s) => s.name === definition.stream);
  if (stream === undefined) throw new Error(`the topology has no stream "${definition.stream}"`);
  const member = options.memberId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const store = new GroupStore({
    url: options.databaseUrl,
    lockHoldLimitMs: options.sessionTimeoutMs ?? 10_000,
    ...(options.tablePrefix !== undefined && { tablePrefix: options.tablePrefix }),
  });
  const key: GroupKey = { stream: stream.name, group: definition.group };
  await store.ensureGroup(key, stream.partitions);
  const runtime = new MemberRuntime(definition as StreamWorkerDefinition, options, stream, store, key, member);
  await runtime.tick();
  runtime.loop();
  return { memberId: member, owned: () => runtime.ownedPartitions(), stop: () => runtime.stop() };
}

class MemberRuntime {
  private readonly runners = new Map<number, PartitionRunner>();
  private connection: StreamConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private lastHeartbeat = Date.now();
  private readonly heartbeatMs: number;
  private readonly sessionTimeoutMs: number;
  private ticking: Promise<void> | undefined;

  constructor(
    readonly definition: StreamWorkerDefinition,
    readonly options: StreamWorkerOptions,
    readonly stream: StreamPlan,
    readonly store: GroupStore,
    readonly key: GroupKey,
    readonly member: string,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 1_000;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.metrics = options.metricsRegistry === undefined ? undefined : streamWorkerMetrics(options.metricsRegistry, key);
  }

  private readonly metrics: ((event: StreamWorkerEvent) => void) | undefined;

  emit(event: StreamWorkerEvent): void {
    this.metrics?.(event);
    this.options.onEvent?.(event);
    const log = this.options.logger;
    if (log === undefined) return;
    if (event.kind === 'retention-loss') {
      log.error({ ...event, stream: this.key.stream, group: this.key.group }, 'records past the committed offset were removed by retention');
    } else if (event.kind === 'fenced' || event.kind === 'batch-failed' || event.kind === 'tick-failed') {
      log.warn({ ...event, stream: this.key.stream, group: this.key.group }, `stream worker: ${event.kind}`);
    } else if (event.kind !== 'committed') {
      log.info({ ...event, stream: this.key.stream, group: this.key.group, member: this.member }, `stream worker: ${event.kind}`);
    }
  }

  ownedPartitions(): number[] {
    return [...this.runners.keys()].sort((a, b) => a - b);
  }

  loop(): void {
    this.timer = setInterval(() => {
      if (this.ticking !== undefined || this.stopping !== undefined) return;
      this.ticking = this.tick()
        .catch((error: unknown) => this.emit({ kind: 'tick-failed', error: error as Error }))
        .finally(() => {
          this.ticking = undefined;
        });
    }, this.heartbeatMs);
  }

  /** Heartbeat, rebalance, then start and stop partitions to match what this member owns. */
  async tick(): Promise<void> {
    if (this.connection?.lost !== undefined) {
      await this.stopAll();
      this.connection = undefined;
    }
    if (this.connection === undefined) {
      const connection = await StreamConnection.open(urlsForVhost(this.options.plan, this.options.amqpUrls), `warren-stream ${this.key.group}`);
      await connection.declareQueue(groupDeadLetterQueue(this.key.stream, this.key.group));
      this.connection = connection;
    }
    let owned: OwnedPartition[];
    try {
      await this.store.heartbeat(this.key, this.member);
      owned = await this.store.rebalance(this.key, this.member, this.sessionTimeoutMs);
      this.lastHeartbeat = Date.now();
    } catch (error) {
      // Silent past the session timeout: others may own our partitions now. Fencing keeps
      // commits safe regardless; stopping saves reading records that cannot be committed.
      if (Date.now() - this.lastHeartbeat > this.sessionTimeoutMs) await this.stopAll();
      throw error;
    }
    if (this.stopping !== undefined) return;
    const wanted = new Map(owned.map((o) => [o.partition, o]));
    for (const [partition, runner] of this.runners) {
      const now = wanted.get(partition);
      if (now === undefined || now.generation !== runner.generation || runner.finished) {
        this.runners.delete(partition);
        await runner.stop();
        if (!runner.fenced) this.emit({ kind: 'revoked', partition, generation: runner.generation });
      }
    }
    for (const ownership of owned) {
      if (this.runners.has(ownership.partition)) continue;
      const runner = new PartitionRunner(this, ownership);
      this.runners.set(ownership.partition, runner);
      this.emit({ kind: 'assigned', partition: ownership.partition, generation: ownership.generation, committed: ownership.committed });
      await runner.start(this.connection);
    }
  }

  private async stopAll(): Promise<void> {
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(runners.map((runner) => runner.stop()));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      await this.ticking;
      await this.stopAll();
      await this.store.leave(this.key, this.member, this.sessionTimeoutMs).catch(() => undefined);
      await this.connection?.close();
      await this.store.close();
    })();
    return this.stopping;
  }
}

/** One owned partition: reads from the committed offset, batches, commits fenced, acks. */
class PartitionRunner {
  readonly partition: number;
  readonly generation: number;
  /** Offset of the last record applied (committed), or null. */
  private committed: number | null;
  private subscription: StreamSubscription | undefined;
  private readonly buffer: StreamRecord[] = [];
  private processing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private checkedRetention = false;
  /** Set when a commit was fenced: the partition belongs to someone else. */
  fenced = false;
  /** Set when the runner gave up (fenced, retries exhausted, subscription lost): the next tick restarts or drops it. */
  finished = false;
  private readonly size: number;
  private readonly maxWaitMs: number;
  private readonly abort = new AbortController();

  constructor(
    private readonly member: MemberRuntime,
    ownership: OwnedPartition,
  ) {
    this.partition = ownership.partition;
    this.generation = ownership.generation;
    this.committed = ownership.committed;
    this.size = member.definition.batch?.size ?? 100;
    this.maxWaitMs = member.definition.batch?.maxWaitMs ?? 200;
  }

  private connection: StreamConnection | undefined;

  async start(connection: StreamConnection): Promise<void> {
    this.connection = connection;
    // From the committed record itself (not the one after): the broker starts at the chunk holding it,
    // so its absence proves retention removed it. Records up to it are skipped.
    // -1 (a reset to `first`) means before everything retained.
    const start: StreamStart =
      this.committed === null ? (this.member.definition.startAt ?? 'first') : this.committed < 0 ? 'first' : { offset: this.committed };
    this.subscription = await connection.subscribe({
      queue: this.member.stream.queues[this.partition] ?? '',
      start,
      prefetch: this.member.options.prefetch ?? this.size * 2,
      onRecord: (record) => this.onRecord(record),
      onLost: () => {
        this.finished = true;
      },
    });
    // Records skipped before `subscribe` resolved could not be acked then; without the ack a
    // prefetch-full of skipped records would stall the partition.
    if (this.skippedUnacked !== undefined && this.buffer.length === 0 && this.processing === undefined) this.subscription.ackUpTo(this.skippedUnacked);
    this.skippedUnacked = undefined;
  }

  private skippedUnacked: StreamRecord | undefined;

  private onRecord(record: StreamRecord): void {
    if (this.stopped) return;
    if (!this.checkedRetention) {
      this.checkedRetention = true;
      // The subscription starts at the committed record itself, so a first delivery past it means it
      // was removed. One offset of slack: after a reset to offset n the group commits n-1, which may
      // be an offset no record has (offsets are not dense). Retention removes whole segments, never one record.
      if (this.committed !== null && this.committed >= 0 && record.offset > this.committed + 1) {
        this.member.emit({ kind: 'retention-loss', partition: this.partition, committed: this.committed, firstAvailable: record.offset });
      }
    }
    if (this.committed !== null && record.offset <= this.committed) {
      // Before the committed offset (the chunk's earlier records, or the committed one): already applied.
      if (this.buffer.length === 0 && this.processing === undefined) {
        if (this.subscription === undefined) this.skippedUnacked = record;
        else this.subscription.ackUpTo(record);
      }
      return;
    }
    this.buffer.push(record);
    this.schedule();
  }

  private schedule(): void {
    if (this.processing !== undefined || this.stopped || this.buffer.length === 0) return;
    if (this.buffer.length >= this.size) {
      this.run();
    } else {
      this.timer ??= setTimeout(() => this.run(), this.maxWaitMs);
    }
  }

  private run(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.processing !== undefined || this.stopped || this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, this.size);
    this.processing = this.process(batch).finally(() => {
      this.processing = undefined;
      this.schedule();
    });
  }

  /** A batch, then (if it keeps failing) its records one by one, dead-lettering those that still fail. */
  private async process(batch: StreamRecord[]): Promise<void> {
    const outcome = await this.attempt(batch);
    if (outcome.kind !== 'failed' || this.stopped) return;
    if (batch.length > 1) {
      for (const record of batch) {
        const single = await this.attempt([record]);
        if (single.kind === 'fenced' || this.stopped) return;
        if (single.kind === 'failed' && !(await this.deadLetter(record, single.error))) return;
      }
      return;
    }
    const [record] = batch;
    if (record !== undefined) await this.deadLetter(record, outcome.error);
  }

  /** Runs the handler and commits, retrying in place with backoff. */
  private async attempt(batch: StreamRecord[]): Promise<{ kind: 'committed' } | { kind: 'fenced' } | { kind: 'failed'; error: Error }> {
    const { definition } = this.member;
    const attempts = definition.retry?.attempts ?? 5;
    let lastError = new Error('stopped');
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt += 1) {
      try {
        await this.commit(batch, true);
        return { kind: 'committed' };
      } catch (error) {
        if (error instanceof FencedError) {
          await this.onFenced();
          return { kind: 'fenced' };
        }
        lastError = error as Error;
        this.member.emit({ kind: 'batch-failed', partition: this.partition, attempt, error: lastError });
        if (attempt === attempts) break;
        const wait = backoffDelay(attempt, { initialMs: definition.retry?.initialBackoffMs ?? 100, maxMs: definition.retry?.maxBackoffMs ?? 5_000 });
        // Cut short by stop(); the loop then sees `stopped`.
        await sleep(wait, this.abort.signal).catch(() => undefined);
      }
    }
    return { kind: 'failed', error: lastError };
  }

  /** One transaction: the handler's effects (when `handle`) and the group's offset, fenced by generation; then the ack. */
  private async commit(batch: StreamRecord[], handle: boolean): Promise<void> {
    const { definition, store, key } = this.member;
    const last = batch[batch.length - 1];
    if (last === undefined) return;
    const { client, release } = await store.checkout();
    const context: BatchContext = { tx: client, stream: key.stream, group: key.group, partition: this.partition, generation: this.generation, member: this.member.member };
    const apply = async (): Promise<void> => {
      const records = this.recordsToApply(batch);
      if (records.length > 0) await definition.handleBatch(records, context);
    };
    try {
      // after-batch: the handler runs before the transaction (each statement commits on its own).
      const inTransaction = handle && definition.commit !== 'after-batch';
      if (handle && !inTransaction) await apply();
      await client.query('BEGIN');
      if (inTransaction) await apply();
      await store.commitIn(client, key, this.member.member, this.partition, this.generation, last.offset);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      release();
    }
    this.committed = last.offset;
    this.subscription?.ackUpTo(last);
    this.member.emit({ kind: 'committed', partition: this.partition, generation: this.generation, offset: last.offset, records: batch.length });
  }

  /** Copies a poison record to the group's DLQ (confirmed), then commits past it. False when the partition must stop. */
  private async deadLetter(record: StreamRecord, error: Error): Promise<boolean> {
    const { key } = this.member;
    const queue = groupDeadLetterQueue(key.stream, key.group);
    try {
      const headers = deadLetterHeaders(record.properties.headers as Record<string, unknown> | undefined, {
        reason: 'attempts-exhausted',
        error: { class: error.constructor.name, message: error.message, stack: error.stack },
        attempts: this.member.definition.retry?.attempts ?? 5,
        worker: this.member.member,
        consumer: key.group,
        deliveredFrom: { exchange: key.stream, routingKey: `p${this.partition}` },
        now: new Date(),
      });
      await this.connection?.publishToQueue(queue, record.content, {
        ...(record.properties.messageId !== undefined && { messageId: record.properties.messageId as string }),
        ...(record.properties.type !== undefined && { type: record.properties.type as string }),
        ...(record.properties.timestamp !== undefined && { timestamp: record.properties.timestamp as number }),
        contentType: 'application/json',
        headers: { ...headers, [STREAM_HEADERS.partition]: this.partition, [STREAM_HEADERS.offset]: record.offset, [STREAM_HEADERS.group]: key.group },
      });
      await this.commit([record], false);
      this.member.emit({ kind: 'dead-lettered', partition: this.partition, offset: record.offset, queue, error });
      return true;
    } catch (failure) {
      if (failure instanceof FencedError) await this.onFenced();
      else {
        this.finished = true;
        await this.halt();
      }
      return false;
    }
  }

  private async onFenced(): Promise<void> {
    this.fenced = true;
    this.finished = true;
    this.member.emit({ kind: 'fenced', partition: this.partition, generation: this.generation });
    await this.halt();
  }

  /**
   * The batch's records this group applies: all but those replayed from
   * another group's DLQ (`x-warren-replay-for-group` naming another group),
   * which are skipped — and committed past with the rest of the batch.
   */
  private recordsToApply(batch: StreamRecord[]): EventRecord[] {
    const group = this.member.key.group;
    return batch.flatMap((record) => {
      const replayedFor = replayedForGroup(record.properties.headers as Record<string, unknown> | undefined);
      return replayedFor === undefined || replayedFor === group ? [this.decode(record, replayedFor !== undefined)] : [];
    });
  }

  private decode(record: StreamRecord, replayed: boolean): EventRecord {
    const headers = (record.properties.headers ?? {}) as Record<string, unknown>;
    const keyHeader = headers[HEADERS.orderingKey];
    const replayedFrom = Number(headers[STREAM_HEADERS.offset]);
    return {
      stream: this.member.key.stream,
      partition: this.partition,
      offset: record.offset,
      key: typeof keyHeader === 'string' ? keyHeader : undefined,
      type: record.properties.type as string | undefined,
      id: record.properties.messageId as string | undefined,
      payload: JSON.parse(record.content.toString('utf8')) as unknown,
      timestamp: record.timestamp,
      headers,
      ...(replayed && Number.isInteger(replayedFrom) && { replayOf: { offset: replayedFrom } }),
    };
  }

  /** Stops reading without waiting for the batch in flight (called from inside it). */
  private async halt(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.buffer.length = 0;
    await this.subscription?.cancel();
  }

  /** Stops reading and waits for the batch in flight to commit or fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    this.buffer.length = 0;
    await this.processing;
    await this.subscription?.cancel();
  }
}
