import type { Options } from 'amqplib';
import type { OutgoingMessage } from '../broker/confirm-publisher.ts';
import { redactText } from '../broker/urls.ts';
import { replayHeaders } from '../message/headers.ts';
import { endSpan, startReplaySpan } from '../tracing/spans.ts';
import { jobIdOf } from '../worker/steps/settle.ts';
import { DEFAULT_PAGE_SIZE, type Page } from './bounds.ts';
import type { DlqBroker, DlqChannel, HeldMessage } from './broker.ts';
import { describeDeadLetter, type DeadLetterView } from './dead-letter.ts';
import { DlqQueueError } from './errors.ts';
import { matchesSelection, type Selection } from './filter.ts';
import type { PublishOutcome, ReplayPublisher } from './replay-publisher.ts';
import { placementOf, refusalOf, type ReplayRoute } from './replay-target.ts';
import { addFailure, PageCollector, toSelected, type ReplaySummary } from './report.ts';
import { pacedSendTime } from './target.ts';
import { recordDeadLetterEvent, type DlqHistory } from './history.ts';

export interface ReplayOptions {
  /** Where every selected message goes (`replayRouteFor`: from the topology, or an explicit `to`). */
  route: ReplayRoute;
  selection: Selection;
  /** Replay at most this many. */
  limit?: number;
  /** Messages per second; none means as fast as confirms come back. */
  ratePerSecond?: number;
  dryRun?: boolean;
  /** Dry run: the page of the selection to list. @defaultValue offset 0, 20 items */
  list?: Page;
  /** Publishes awaiting their confirm at once: the most a crash can duplicate. @defaultValue 256 */
  window?: number;
  /** Stops taking messages (client gone); the ones in flight finish, the rest stay in the DLQ. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  /** Job history: each replayed job gets a `replayed` event. */
  history?: DlqHistory | undefined;
}

export interface ReplayProgress {
  total: number;
  scanned: number;
  replayed: number;
  failed: number;
}

/** Opens the publisher of a real (not dry) run; the service passes the broker URLs. */
export type OpenPublisher = () => Promise<ReplayPublisher>;

const DEFAULT_WINDOW = 256;
/** While the target exchange is known missing, look again at most this often (it may be declared again). */
const RECHECK_MISSING_MS = 500;
const RECOVER_TIMEOUT_MS = 10_000;

/**
 * `dlq replay`: one pass over the messages present when it starts. Each
 * selected message is republished along the pass's route (replay-target.ts)
 * with `replayHeaders`, unchanged body and properties (made persistent, no
 * per-message expiration), and acked from the DLQ only once the broker
 * confirmed the copy — a crash duplicates at most the `window` in flight and
 * loses nothing. A message that cannot be replayed (refused, unroutable,
 * nacked, target missing, channel closed) is counted `failed` with its
 * reason and stays; the pass goes on (a closed publishing channel is
 * replaced). Messages not selected are held unacked and go back to their
 * places when the holding channel closes, so the DLQ keeps its order.
 */
export async function replayDeadLetters(broker: DlqBroker, openPublisher: OpenPublisher, queue: string, options: ReplayOptions): Promise<ReplaySummary> {
  const startedAt = Date.now();
  const depth = await broker.depth(queue);
  const { route } = options;
  if (route.target.kind === 'to' && !(await broker.queueExists(route.target.routingKey))) {
    throw new DlqQueueError('unknown-target', `--to: queue ${JSON.stringify(route.target.routingKey.slice(0, 255))} does not exist`);
  }
  const dryRun = options.dryRun === true;
  const list = new PageCollector<{ id: string | null; jobType: string | null }>(options.list ?? { offset: 0, limit: DEFAULT_PAGE_SIZE });
  const summary: ReplaySummary = {
    queue,
    dryRun,
    target: route.target,
    scanned: 0,
    replayed: 0,
    skipped: 0,
    failed: 0,
    failures: [],
    failedByReason: [],
    elapsedMs: 0,
  };
  const publisher = dryRun ? undefined : await openPublisher();
  let channel: DlqChannel | undefined;
  try {
    channel = await broker.openChannel(queue);
    const pass = new ReplayPass(broker, channel, publisher, queue, depth, options, summary, list);
    await pass.run();
  } finally {
    await channel?.close();
    await publisher?.close();
    summary.skipped += Math.max(0, depth - summary.scanned);
    if (dryRun) {
      summary.wouldReplay = list.items;
      summary.listOffset = list.page.offset;
      summary.listLimit = list.page.limit;
      const next = list.nextOffset;
      if (next !== undefined) summary.nextListOffset = next;
    }
    summary.elapsedMs = Date.now() - startedAt;
  }
  return summary;
}

/** One pass's state: the in-flight window and what is known about the target. */
class ReplayPass {
  private readonly window = new Set<Promise<void>>();
  private selected = 0;
  private readonly startMs = Date.now();
  /** Set after a publish lost its channel: the next publish waits for a fresh one. */
  private needsRecovery = false;
  /** Set while the target exchange is known missing: messages fail without a publish. */
  private missingSince: number | undefined;
  private missingReason = '';

  constructor(
    private readonly broker: DlqBroker,
    private readonly channel: DlqChannel,
    private readonly publisher: ReplayPublisher | undefined,
    private readonly queue: string,
    private readonly depth: number,
    private readonly options: ReplayOptions,
    private readonly summary: ReplaySummary,
    private readonly list: PageCollector<{ id: string | null; jobType: string | null }>,
  ) {}

  async run(): Promise<void> {
    const { options, summary } = this;
    await this.checkTarget();
    try {
      while (summary.scanned < this.depth && (options.limit === undefined || this.selected < options.limit)) {
        if (options.signal?.aborted) {
          summary.error = 'the request was cancelled (client disconnected); replay stopped after the messages in flight';
          break;
        }
        if (this.channel.error) break;
        const message = await this.channel.take(this.queue);
        if (message === false) break;
        summary.scanned++;
        await this.handle(message);
        if (summary.scanned % 100 === 0) this.report();
      }
    } catch (error) {
      summary.error = redactText(error instanceof Error ? error.message : String(error));
    }
    await Promise.all(this.window);
    this.report();
    // Whatever was not acked before the holding channel failed is back in the DLQ.
    if (this.channel.error && summary.error === undefined) summary.error = redactText(this.channel.error.message);
  }

  private async handle(message: HeldMessage): Promise<void> {
    const { options, summary } = this;
    const view = describeDeadLetter(message);
    if (!matchesSelection(options.selection, view, message.properties.headers)) {
      summary.skipped++;
      return;
    }
    this.selected++;
    const refusal = refusalOf(options.route, message.properties.headers);
    if (refusal !== undefined) {
      addFailure(summary, view.id, refusal);
      return;
    }
    if (options.dryRun) {
      if (this.missingSince !== undefined) addFailure(summary, view.id, this.missingReason);
      else {
        summary.replayed++;
        this.list.offer(() => toSelected(view));
      }
      return;
    }
    await waitUntil(pacedSendTime(this.startMs, this.selected - 1, options.ratePerSecond), options.signal);
    if (options.signal?.aborted) {
      // Not sent: it stays in the DLQ like every message after it.
      summary.skipped++;
      return;
    }
    while (this.window.size >= (options.window ?? DEFAULT_WINDOW)) await Promise.race(this.window);
    if (this.needsRecovery) {
      // Everything already sent settles first, then a fresh channel — or the pass ends (connection lost).
      await Promise.all(this.window);
      try {
        await this.publisherOf().recover(RECOVER_TIMEOUT_MS);
      } catch (error) {
        addFailure(summary, view.id, 'no publishing channel: the pass stopped here');
        throw error;
      }
      this.needsRecovery = false;
      await this.checkTarget();
    }
    if (this.missingSince !== undefined) {
      if (Date.now() - this.missingSince >= RECHECK_MISSING_MS) await this.checkTarget();
      if (this.missingSince !== undefined) {
        addFailure(summary, view.id, this.missingReason);
        return;
      }
    }
    const inFlight = this.republishThenAck(message, view);
    this.window.add(inFlight);
    void inFlight.finally(() => this.window.delete(inFlight));
  }

  private async republishThenAck(message: HeldMessage, view: DeadLetterView): Promise<void> {
    const { route } = this.options;
    // The event's time is the publish: the consumer may take the copy before the confirm is back.
    const sentAt = this.options.history === undefined ? 0 : Date.now();
    const placement = placementOf(route, message.properties.headers);
    const options = republishOptions(message);
    const republished: OutgoingMessage = {
      exchange: route.target.exchange,
      routingKey: placement.routingKey,
      content: message.content,
      options: { ...options, headers: { ...options.headers, ...placement.headers } },
    };
    const span = startReplaySpan(republished, { queue: this.queue, deadLetterHeaders: message.properties.headers as Record<string, unknown> | undefined });
    const outcome: PublishOutcome = await this.publisherOf().publish(republished);
    endSpan(span, outcome.ok ? undefined : new Error(outcome.reason));
    if (!outcome.ok) {
      addFailure(this.summary, view.id, outcome.reason);
      if (outcome.channelLost) this.needsRecovery = true;
      return;
    }
    // Acked only after the confirm: a crash before this line duplicates, never loses.
    try {
      this.channel.ack(message);
    } catch {
      addFailure(this.summary, view.id, 'replayed, but the DLQ channel closed before its ack: the message is also back in the DLQ');
      return;
    }
    this.summary.replayed++;
    recordDeadLetterEvent(this.options.history, 'replayed', this.queue, message, sentAt);
    if (this.summary.replayed % 100 === 0) this.report();
  }

  /** The target (its exchange, or its queue through the default exchange) exists: else messages fail at once with a clear reason. */
  private async checkTarget(): Promise<void> {
    const { exchange, routingKey } = this.options.route.target;
    const exists = exchange === '' ? await this.broker.queueExists(routingKey) : await this.broker.exchangeExists(exchange);
    if (exists) {
      this.missingSince = undefined;
      return;
    }
    this.missingSince = Date.now();
    this.missingReason = exchange === ''
      ? `the target queue ${JSON.stringify(routingKey)} does not exist (is the topology applied?)`
      : `the target exchange ${JSON.stringify(exchange)} does not exist (is the topology applied?)`;
  }

  private publisherOf(): ReplayPublisher {
    if (this.publisher === undefined) throw new Error('a dry run has no publisher');
    return this.publisher;
  }

  private report(): void {
    const { summary } = this;
    this.options.onProgress?.({ total: this.depth, scanned: summary.scanned, replayed: summary.replayed, failed: summary.failed });
  }
}

/**
 * Body and properties unchanged, except: headers through `replayHeaders`
 * (attempt 1, replays + 1, failure context and x-death dropped), persistent,
 * no per-message `expiration` (a replayed job must not vanish from its
 * queue), and a message id (the one a worker would derive) when it had none
 * — the publisher ties returns to publishes by it.
 */
export function republishOptions(message: Pick<HeldMessage, 'properties' | 'content'>): OutgoingMessage['options'] {
  const { headers, expiration: _expiration, deliveryMode: _deliveryMode, messageId: _messageId, ...rest } = message.properties;
  const options: Options.Publish = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && value !== null) (options as Record<string, unknown>)[key] = value;
  }
  const id: unknown = message.properties.messageId;
  return { ...options, persistent: true, headers: replayHeaders(headers), messageId: jobIdOf({ properties: { messageId: typeof id === 'string' ? id : undefined }, content: message.content }) };
}

/** Sleeps until `timeMs`, or until `signal` aborts (a paced replay's client may leave mid-wait). */
function waitUntil(timeMs: number, signal: AbortSignal | undefined): Promise<void> {
  const delay = timeMs - Date.now();
  if (delay <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, delay);
    signal?.addEventListener('abort', done, { once: true });
  });
}
