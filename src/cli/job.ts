import type { Command } from 'commander';
import pino from 'pino';
import { redactText } from '../broker/urls.ts';
import { formatJobHistory } from '../history/format.ts';
import { historyOptionsFromEnv, openHistory } from '../history/index.ts';
import { CliExit, EXIT } from './exit.ts';

/** `warren job <id>`: a job's history (acceptance, each consumer's attempts, DLQ events), read from the history database. */
export function registerJobCommand(program: Command): void {
  program
    .command('job <id>')
    .description("a job's history: its acceptance, each consumer's attempts in order and its DLQ events (needs WARREN_HISTORY_URL)")
    .option('--type <jobType>', 'the job type, when one id was used by several')
    .option('--json', 'machine-readable output (the body of GET /v1/jobs/{jobType}/{id})')
    .action((id: string, flags: { type?: string; json?: boolean }) => runJob(id, flags));
}

async function runJob(id: string, flags: { type?: string; json?: boolean }): Promise<void> {
  let options;
  try {
    options = historyOptionsFromEnv();
  } catch (error) {
    throw new CliExit(EXIT.invalid, `warren job: ${(error as Error).message}`);
  }
  if (options === undefined) throw new CliExit(EXIT.invalid, 'warren job: job history is off; set WARREN_HISTORY_URL to the PostgreSQL URL the producer and workers record to');
  const history = openHistory(options, { logger: pino({ name: 'warren-job', level: 'warn' }, pino.destination(2)) });
  try {
    const job = await history.reader.job({ id, jobType: flags.type }).catch((error: unknown) => {
      throw new CliExit(EXIT.failure, `warren job: cannot read the history: ${redactText(error instanceof Error ? error.message : String(error))}`);
    });
    if (job === undefined) throw new CliExit(EXIT.invalid, `warren job: no history for ${JSON.stringify(id)} (unknown, older than the retention, or not written yet)`);
    process.stdout.write(`${flags.json ? JSON.stringify(job) : formatJobHistory(job)}\n`);
  } finally {
    await history.close(0);
  }
}
