import type { Command } from 'commander';
import { delayPathText } from '../delay/path-text.ts';
import { delayPath, MAX_DELAY_MS } from '../delay/levels.ts';
import { parseDuration } from '../duration.ts';
import { loadTopology } from '../topology/load.ts';
import { CliExit, EXIT } from './exit.ts';

interface DelayPathFlags {
  jobType: string;
  topology?: string;
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
    .option('--topology <file>', 'check the job type against this topology file and name where it lands')
    .option('--json', 'machine-readable')
    .action(async (text: string, flags: DelayPathFlags) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) throw new CliExit(EXIT.invalid, `warren delay path: not a delay > 0: ${JSON.stringify(text)} (use ms or e.g. 90s, 2h, 365d)`);
      if (ms > MAX_DELAY_MS) throw new CliExit(EXIT.invalid, `warren delay path: at most ${MAX_DELAY_MS} ms (${Math.floor(MAX_DELAY_MS / 86_400_000)} days)`);
      let target: { exchange: string; routingKey: string } | undefined;
      if (flags.topology !== undefined) {
        const job = (await loadTopology(flags.topology)).plan.jobs.find((j) => j.type === flags.jobType);
        if (job === undefined) throw new CliExit(EXIT.invalid, `warren delay path: no job type "${flags.jobType}" in ${flags.topology}`);
        if (job.delays === undefined) throw new CliExit(EXIT.invalid, `warren delay path: job type "${flags.jobType}" takes no delays (set delays: true on it)`);
        target = { exchange: job.exchange, routingKey: job.routingKey };
      }
      const path = delayPath(ms, flags.jobType);
      process.stdout.write(flags.json ? `${JSON.stringify({ ...path, ...(target && { target }) })}\n` : delayPathText(path, flags.jobType, target));
    });
}
