import type { Options } from 'amqplib';
import { redactText } from '../broker/urls.ts';
import { replayHeaders } from '../message/headers.ts';
import type { DlqBroker, DlqChannel, HeldMessage } from './broker.ts';
import { describeDeadLetter, type DeadLetterView, type Origin } from './dead-letter.ts';
import { DlqQueueError } from './errors.ts';
import { matchesSelection, type Selection } from './filter.ts';
import { addFailure, type ReplaySummary } from './report.ts';
import { pacedSendTime } from './target.ts';

export interface ReplayOptions {
  selection: Selection;
  /** Replay at most this many. */
  limit?: number;
  /** Messages per second; none means as fast as confirms come back. */
  ratePerSecond?: number;
  dryRun?: boolean;
  /** Publish to this queue (default exchange) instead of each message's origin. */
  to?: string;
  /** Publishes awaiting their confirm at once: the most a crash can duplicate. @defaultValue 256 */
  window?: number;
  onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  total: number;
  scanned: number;
  replayed: number;
  failed: number;
}

const DEFAULT_WINDOW = 256;

/**
 * `dlq replay`: one pass over the messages present when it starts. A
 * selected message is republished to its origin (or `to`) with
 * `replayHeaders` and otherwise unchanged body and properties, and acked
 * from the DLQ only once the broker confirmed the copy — a crash duplicates
 * at most the `window` in flight and loses nothing. Messages not selected,
 * and selected ones that could not be republished, are held unacked and go
 * back to their places when the channel closes, so the DLQ keeps its order.
 */
export async function replayDeadLetters(broker: DlqBroker, queue: string, options: ReplayOptions): Promise<ReplaySummary> {
  const startedAt = Date.now();
  const depth = await broker.depth(queue);
  if (options.to !== undefined) await assertTargetQueue(broker, options.to);
  const summary: ReplaySummary = {
    queue,
    dryRun: options.dryRun === true,
    scanned: 0,
    replayed: 0,
    skipped: 0,
    failed: 0,
    failures: [],
    ...(options.dryRun === true && { wouldReplay: [] }),
    elapsedMs: 0,
  };
  const channel = await broker.openChannel();
  try {
    await runPass(channel, queue, depth, options, summary);
  } finally {
    await channel.close();
    summary.skipped += Math.max(0, depth - summary.scanned);
    summary.elapsedMs = Date.now() - startedAt;
  }
  return summary;
}

async function runPass(channel: DlqChannel, queue: string, depth: number, options: ReplayOptions, summary: ReplaySummary): Promise<void> {
  const window = new Set<Promise<void>>();
  const maxWindow = options.window ?? DEFAULT_WINDOW;
  const startMs = Date.now();
  let selected = 0;
  const report = (): void => options.onProgress?.({ total: depth, scanned: summary.scanned, replayed: summary.replayed, failed: summary.failed });
  while (summary.scanned < depth && (options.limit === undefined || selected < options.limit)) {
    if (channel.error) break;
    const message = await channel.take(queue);
    if (message === false) break;
    summary.scanned++;
    const view = describeDeadLetter(message);
    if (!matchesSelection(options.selection, view, message.properties.headers)) {
      summary.skipped++;
      continue;
    }
    selected++;
    const target = options.to !== undefined ? { exchange: '', routingKey: options.to } : view.origin;
    if (target === null) {
      addFailure(summary, view.id, 'no origin: neither x-warren-origin-* nor x-death headers (use --to QUEUE)');
    } else if (options.dryRun) {
      summary.replayed++;
      summary.wouldReplay?.push({ id: view.id, jobType: view.jobType, to: target });
    } else {
      await waitUntil(pacedSendTime(startMs, selected - 1, options.ratePerSecond));
      while (window.size >= maxWindow) await Promise.race(window);
      const inFlight = republishThenAck(channel, message, view, target, summary).then(report);
      window.add(inFlight);
      void inFlight.finally(() => window.delete(inFlight));
    }
    if (summary.scanned % 100 === 0) report();
  }
  await Promise.all(window);
  report();
  // Whatever was not acked before the channel failed is back in the DLQ.
  if (channel.error) summary.error = redactText(channel.error.message);
}

async function republishThenAck(channel: DlqChannel, message: HeldMessage, view: DeadLetterView, target: Origin, summary: ReplaySummary): Promise<void> {
  const outcome = await channel.republish({
    exchange: target.exchange,
    routingKey: target.routingKey,
    content: message.content,
    options: republishOptions(message),
  });
  if (!outcome.ok) {
    addFailure(summary, view.id, outcome.reason);
    return;
  }
  channel.ack(message);
  summary.replayed++;
}

/** Body and properties unchanged, headers through `replayHeaders` (attempt 1, replays + 1, failure context and x-death dropped). */
export function republishOptions(message: HeldMessage): Options.Publish {
  const { headers, expiration, ...rest } = message.properties;
  const options: Options.Publish = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && value !== null) (options as Record<string, unknown>)[key] = value;
  }
  if (expiration !== undefined && expiration !== null) options.expiration = String(expiration);
  options.headers = replayHeaders(headers);
  return options;
}

async function assertTargetQueue(broker: DlqBroker, to: string): Promise<void> {
  try {
    await broker.depth(to);
  } catch (error) {
    if (error instanceof DlqQueueError) throw new DlqQueueError('unknown-target', `--to: queue "${to}" does not exist`);
    throw error;
  }
}

function waitUntil(timeMs: number): Promise<void> {
  const delay = timeMs - Date.now();
  return delay > 0 ? new Promise((resolve) => setTimeout(resolve, delay)) : Promise.resolve();
}
