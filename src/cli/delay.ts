import type { Command } from 'commander';
import { delayPathText } from '../delay/path-text.ts';
import { delayPath, MAX_DELAY_MS } from '../delay/levels.ts';
import { parseDuration } from '../duration.ts';
import { CliExit, EXIT } from './exit.ts';

interface DelayPathFlags {
  jobType: string;
  json?: boolean;
}

/**
 * `warren delay path <delay> [--job-type t] [--json]`: the dry run of a
 * delay — which delay queues a job enqueued with it waits in, in which
 * order, and the routing key it carries. Pure; no broker.
 */
export function registerDelayCommands(program: Command): void {
  const delay = program.command('delay').description('delayed jobs (README "Jobs for later")');
  delay
    .command('path')
    .description('print the path a delay takes through the delay levels (no broker needed)')
    .argument('<delay>', 'ms or a duration: 90s, 2h, 365d')
    .option('--job-type <type>', 'the job type (ends the routing key)', 'my.job')
    .option('--json', 'machine-readable')
    .action((text: string, flags: DelayPathFlags) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) throw new CliExit(EXIT.invalid, `warren delay path: not a delay > 0: ${JSON.stringify(text)} (use ms or e.g. 90s, 2h, 365d)`);
      if (ms > MAX_DELAY_MS) throw new CliExit(EXIT.invalid, `warren delay path: at most ${MAX_DELAY_MS} ms (${Math.floor(MAX_DELAY_MS / 86_400_000)} days)`);
      const path = delayPath(ms, flags.jobType);
      process.stdout.write(flags.json ? `${JSON.stringify(path)}\n` : delayPathText(path, flags.jobType));
    });
}
