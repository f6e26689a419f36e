import type { Command } from 'commander';
import { redactText } from '../broker/urls.ts';
import { targetVhost } from '../broker/vhost.ts';
import { loadConfig } from '../config.ts';
import { formatDuration } from '../duration.ts';
import { createLogger } from '../log.ts';
import { DEFAULT_TABLE_PREFIX, ScheduleLedger, type ScheduleStatus } from '../schedules/ledger.ts';
import { nextTick, type TickRule } from '../schedules/rule.ts';
import { Scheduler } from '../schedules/scheduler.ts';
import { loadTopology } from '../topology/load.ts';
import type { SchedulePlan } from '../topology/plan.ts';
import { CliExit, EXIT } from './exit.ts';

interface SchedulerFlags {
  topology: string;
  databaseUrl?: string;
  tablePrefix: string;
  standbyPoll: string;
}

/**
 * `warren scheduler --topology <file>`: runs the file's schedules until
 * SIGTERM/SIGINT; start as many replicas as you like (one leads).
 * `warren schedules --topology <file> [--json]`: each schedule and its next run.
 */
export function registerScheduleCommands(program: Command): void {
  program
    .command('scheduler')
    .description('enqueue the topology\'s schedules at every tick; run several replicas, one leads (PostgreSQL advisory lock)')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--database-url <url>', 'PostgreSQL for the leader lock and the tick ledger (default: DATABASE_URL)')
    .option('--table-prefix <prefix>', 'ledger tables <prefix>_state and <prefix>_ticks', DEFAULT_TABLE_PREFIX)
    .option('--standby-poll <ms>', 'how often a standby replica tries to take the lead', '1000')
    .action(async (flags: SchedulerFlags) => {
      const { plan } = await loadTopology(flags.topology);
      const standbyPollMs = Number(flags.standbyPoll);
      if (!Number.isInteger(standbyPollMs) || standbyPollMs < 1) throw new CliExit(EXIT.invalid, `--standby-poll must be a positive integer, got "${flags.standbyPoll}"`);
      let scheduler: Scheduler;
      try {
        scheduler = new Scheduler({
          plan,
          tablePrefix: flags.tablePrefix,
          standbyPollMs,
          logger: createLogger('warren-scheduler'),
          ...(flags.databaseUrl !== undefined && { databaseUrl: flags.databaseUrl }),
        });
      } catch (error) {
        if (error instanceof RangeError) throw new CliExit(EXIT.invalid, `warren scheduler: ${error.message}`);
        throw error;
      }
      await scheduler.start();
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(`warren scheduler: ${signal} received, handing over\n`);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await scheduler.stop();
    });

  program
    .command('schedules')
    .description('list the topology\'s schedules with their next run (and, with DATABASE_URL, what the ledger recorded)')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--database-url <url>', 'read the last enqueued tick from this PostgreSQL (default: DATABASE_URL)')
    .option('--table-prefix <prefix>', 'ledger tables <prefix>_state and <prefix>_ticks', DEFAULT_TABLE_PREFIX)
    .option('--json', 'machine-readable output')
    .action(async (flags: { topology: string; databaseUrl?: string; tablePrefix: string; json?: boolean }) => {
      const { plan } = await loadTopology(flags.topology);
      const config = loadConfig();
      const databaseUrl = flags.databaseUrl ?? config.databaseUrl;
      const statuses = databaseUrl ? await readStatus(databaseUrl, targetVhost(plan, config.amqpUrls), flags.tablePrefix) : undefined;
      const rows = scheduleRows(plan.schedules ?? [], new Date(), statuses);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ schedules: rows }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no schedules in this topology\n');
        return;
      }
      for (const row of rows) {
        const ledger = row.ledger === undefined ? '' : `  last ${row.ledger.lastEnqueued ?? 'never'}${row.ledger.pending > 0 ? `, ${row.ledger.pending} pending` : ''}${row.ledger.skipped > 0 ? `, ${row.ledger.skipped} skipped` : ''}`;
        process.stdout.write(`${row.name}  ${row.jobType}  ${row.rule}  missed: ${row.missed}  next ${row.nextRun ?? 'never'}${ledger}\n`);
      }
    });
}

export interface ScheduleRow {
  name: string;
  jobType: string;
  rule: string;
  missed: string;
  nextRun: string | undefined;
  ledger?: { lastEnqueued: string | undefined; pending: number; skipped: number };
}

/** Pure: what `warren schedules` prints for each schedule. */
export function scheduleRows(schedules: readonly SchedulePlan[], now: Date, statuses: readonly ScheduleStatus[] | undefined): ScheduleRow[] {
  const byName = new Map(statuses?.map((s) => [s.schedule, s]));
  return schedules.map((schedule) => {
    const status = byName.get(schedule.name);
    return {
      name: schedule.name,
      jobType: schedule.jobType,
      rule: describeRule(schedule.rule),
      missed: schedule.missed === 'catch-up' ? `catch-up (at most ${schedule.catchUpLimit})` : 'skip',
      nextRun: nextTick(schedule.rule, now)?.toISOString(),
      ...(statuses !== undefined && {
        ledger: { lastEnqueued: status?.lastEnqueued?.toISOString(), pending: status?.pending ?? 0, skipped: status?.skipped ?? 0 },
      }),
    };
  });
}

function describeRule(rule: TickRule): string {
  return rule.kind === 'every' ? `every ${formatDuration(rule.everyMs)}` : `cron "${rule.expression}" ${rule.timezone}`;
}

async function readStatus(databaseUrl: string, scope: string, prefix: string): Promise<ScheduleStatus[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'warren schedules' });
  try {
    await client.connect();
    return await new ScheduleLedger(client, scope, prefix).status();
  } catch (error) {
    throw new CliExit(EXIT.failure, `warren schedules: cannot read the ledger: ${redactText(error instanceof Error ? error.message : String(error))}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
