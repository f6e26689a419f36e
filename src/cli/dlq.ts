import { createInterface } from 'node:readline/promises';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { loadConfig } from '../config.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parsePage, type Page } from '../dlq/bounds.ts';
import { DlqInputError, DlqQueueError, ReplayTargetError } from '../dlq/errors.ts';
import { parseSelection, type Selection } from '../dlq/filter.ts';
import { listDeadLetters } from '../dlq/inspect.ts';
import { purgeDeadLetters } from '../dlq/purge.ts';
import { replayDeadLetters, type ReplayProgress } from '../dlq/replay.ts';
import { replayRouteFor } from '../dlq/replay-target.ts';
import { formatListing, formatPurgeSummary, formatReplaySummary, type ReplaySummary } from '../dlq/report.ts';
import { withDeadLetterQueue, type DlqContext } from '../dlq/service.ts';
import { parseLimit, parseRate } from '../dlq/target.ts';
import { loadTopology } from '../topology/load.ts';
import pino from 'pino';
import { dlqHistory } from '../dlq/history.ts';
import { resolveHistory } from '../history/index.ts';
import { CliExit, EXIT } from './exit.ts';

interface CommonFlags {
  topology?: string;
  json?: boolean;
}

interface SelectionFlags {
  filter?: string[];
  since?: string;
  until?: string;
}

/** `warren dlq list|replay|purge`: inspect and replay dead letters without losing one. */
export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('inspect, replay and purge dead-letter queues');
  dlq
    .command('list <queue>')
    .description('count, group by job type and error, and show a page of the messages (leaves the queue as it was)')
    .option('--limit <n>', `messages to show (at most ${MAX_PAGE_SIZE})`, String(DEFAULT_PAGE_SIZE))
    .option('--offset <n>', 'skip this many messages first', '0')
    .option('--group-limit <n>', `groups to show, largest first (at most ${MAX_PAGE_SIZE})`, String(DEFAULT_PAGE_SIZE))
    .option('--group-offset <n>', 'skip this many groups first', '0')
    .addOption(topologyOption())
    .option('--json', 'machine-readable output')
    .action((queue: string, flags: ListFlags) => runList(queue, flags));
  listOptions(
    selectionOptions(
      dlq
        .command('replay <queue>')
        .description("republish dead letters to the consumer (or stream group) whose DLQ it is (from the topology); acked from the DLQ only after the confirm"),
    ),
  )
    .option('--limit <n>', 'replay at most N messages')
    .option('--rate <n>', 'at most N messages per second (200 or 200/s)')
    .option('--dry-run', 'print what would be replayed, change nothing')
    .option('--to <queue>', "publish to this queue of the topology instead (not a shard queue or a stream partition)")
    .option('--force', 'with --to: skip the topology check (any existing queue, shard queues and stream partitions included; also without a topology)')
    .addOption(topologyOption())
    .option('--json', 'machine-readable output')
    .action((queue: string, flags: ReplayFlags) => runReplay(queue, flags));
  listOptions(selectionOptions(dlq.command('purge <queue>').description('delete dead letters (all, or those matching the filters)')))
    .option('--dry-run', 'print what would be deleted, change nothing')
    .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
    .addOption(topologyOption())
    .option('--json', 'machine-readable output')
    .action((queue: string, flags: PurgeFlags) => runPurge(queue, flags));
}

type ListFlags = CommonFlags & { limit: string; offset: string; groupLimit: string; groupOffset: string };
type PageFlags = { listOffset?: string; listLimit?: string };
type ReplayFlags = CommonFlags & SelectionFlags & PageFlags & { limit?: string; rate?: string; dryRun?: boolean; to?: string; force?: boolean };
type PurgeFlags = CommonFlags & SelectionFlags & PageFlags & { yes?: boolean; dryRun?: boolean };

function topologyOption(): Option {
  return new Option('--topology <file>', 'topology file: the queue must be one of its DLQs (else its name must end in .dlq); replay derives its target from it').env('WARREN_TOPOLOGY');
}

function selectionOptions(command: Command): Command {
  return command
    .option('--filter <key=value>', 'jobType=…, error=… (substring), error~=regex (RE2 syntax), id=…, header.<name>=…; repeatable, all must match', collect, [])
    .option('--since <time>', 'failed at or after (ISO time, or a duration ago: 30m, 2h)')
    .option('--until <time>', 'failed before (ISO time, or a duration ago)');
}

function listOptions(command: Command): Command {
  return command
    .option('--list-limit <n>', `dry run: selected messages to list (at most ${MAX_PAGE_SIZE})`)
    .option('--list-offset <n>', 'dry run: skip this many selected messages in the list');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runList(queue: string, flags: ListFlags): Promise<void> {
  const messages = guard(() => parsePage({ offset: flags.offset, limit: flags.limit }, { offset: '--offset', limit: '--limit' }));
  const groups = guard(() => parsePage({ offset: flags.groupOffset, limit: flags.groupLimit }, { offset: '--group-offset', limit: '--group-limit' }));
  const context = await contextFrom(flags);
  const listing = await guardAsync(() =>
    withDeadLetterQueue(context, queue, ({ broker }) => listDeadLetters(broker, queue, { ...messages, groupOffset: groups.offset, groupLimit: groups.limit })),
  );
  print(flags.json ? JSON.stringify(listing) : formatListing(listing));
}

async function runReplay(queue: string, flags: ReplayFlags): Promise<void> {
  const selection = guard(() => selectionFrom(flags));
  const limit = guard(() => parseLimit(flags.limit));
  const ratePerSecond = guard(() => parseRate(flags.rate));
  const list = guard(() => listPageFrom(flags));
  if (flags.force === true && flags.to === undefined) throw new CliExit(EXIT.invalid, 'warren dlq: --force only applies to --to QUEUE');
  const context = await contextFrom(flags);
  const route = guard(() => replayRouteFor(context.plan, queue, { to: flags.to, force: flags.force }));
  const progress = flags.json ? undefined : progressBar();
  const history = flags.dryRun === true ? undefined : openCliHistory();
  let summary: ReplaySummary;
  try {
    summary = await guardAsync(() =>
      withDeadLetterQueue(context, queue, ({ broker, openPublisher }) =>
        replayDeadLetters(broker, openPublisher, queue, {
          route,
          selection,
          list,
          ...(limit !== undefined && { limit }),
          ...(ratePerSecond !== undefined && { ratePerSecond }),
          dryRun: flags.dryRun === true,
          history: dlqHistory(history?.handle.recorder, context.plan, queue),
          ...(progress && { onProgress: progress.update }),
        }),
      ),
    );
  } finally {
    progress?.stop();
    await history?.handle.close();
  }
  print(flags.json ? JSON.stringify(summary) : formatReplaySummary(summary));
  if (summary.failed > 0 || summary.error !== undefined) process.exitCode = EXIT.failure;
}

async function runPurge(queue: string, flags: PurgeFlags): Promise<void> {
  const selection = guard(() => selectionFrom(flags));
  const list = guard(() => listPageFrom(flags));
  const context = await contextFrom(flags);
  if (!flags.yes && flags.dryRun !== true) {
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new CliExit(EXIT.invalid, 'warren dlq purge: refusing to delete without --yes when not on a terminal');
    }
    const what = flags.filter?.length || flags.since || flags.until ? 'the matching messages' : 'every message';
    if (!(await confirm(`Delete ${what} of ${queue}? This cannot be undone. [y/N] `))) throw new CliExit(EXIT.ok, 'nothing deleted');
  }
  const history = flags.dryRun === true ? undefined : openCliHistory();
  const summary = await guardAsync(() =>
    withDeadLetterQueue(context, queue, ({ broker }) =>
      purgeDeadLetters(broker, queue, { selection, dryRun: flags.dryRun === true, list, history: dlqHistory(history?.handle.recorder, context.plan, queue) }),
    ),
  ).finally(() => history?.handle.close());
  print(flags.json ? JSON.stringify(summary) : formatPurgeSummary(summary));
  if (summary.error !== undefined) process.exitCode = EXIT.failure;
}

/** With `WARREN_HISTORY_URL` set, replays and purges are recorded as job events; its warnings go to stderr (stdout may be --json). */
function openCliHistory() {
  return resolveHistory(undefined, { logger: pino({ name: 'warren-dlq', level: 'warn' }, pino.destination(2)) });
}

function listPageFrom(flags: PageFlags): Page {
  return parsePage({ offset: flags.listOffset, limit: flags.listLimit }, { offset: '--list-offset', limit: '--list-limit' });
}

function selectionFrom(flags: SelectionFlags): Selection {
  return parseSelection({
    filters: flags.filter ?? [],
    ...(flags.since !== undefined && { since: flags.since }),
    ...(flags.until !== undefined && { until: flags.until }),
  });
}

async function contextFrom(flags: CommonFlags): Promise<DlqContext> {
  const plan = flags.topology === undefined ? undefined : (await loadTopology(flags.topology)).plan;
  return { amqpUrls: loadConfig().amqpUrls, plan };
}

/** Bad input and wrong queues end the command with exit 1 and one clear line. */
function guard<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw asCliExit(error);
  }
}

async function guardAsync<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw asCliExit(error);
  }
}

function asCliExit(error: unknown): unknown {
  if (error instanceof DlqInputError || error instanceof DlqQueueError || error instanceof ReplayTargetError) {
    return new CliExit(EXIT.invalid, `warren dlq: ${error.message}`);
  }
  return error;
}

function progressBar(): { update: (progress: ReplayProgress) => void; stop: () => void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'replay [{bar}] {value}/{total} scanned | {replayed} replayed | {speed}/s | ETA {eta_formatted}', etaBuffer: 200 },
    cliProgress.Presets.shades_classic,
  );
  const startedAt = Date.now();
  let started = false;
  return {
    update: (p) => {
      const speed = Math.round(p.replayed / Math.max(0.001, (Date.now() - startedAt) / 1000));
      if (!started) {
        bar.start(p.total, p.scanned, { replayed: p.replayed, speed });
        started = true;
      } else bar.update(p.scanned, { replayed: p.replayed, speed });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

async function confirm(question: string): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await readline.question(question)).trim());
  } finally {
    readline.close();
  }
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}
