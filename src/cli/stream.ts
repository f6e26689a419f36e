import { Command, Option } from 'commander';
import { loadConfig } from '../config.ts';
import { findStream, groupStatus, resetGroup, type AdminContext, type PartitionStatus, type ResetRow } from '../streams/group-admin.ts';
import { parseResetTarget, ResetTargetError } from '../streams/reset-target.ts';
import { loadTopology } from '../topology/load.ts';
import { CliExit, EXIT } from './exit.ts';

interface Common {
  topology: string;
  stream?: string;
  group: string;
  tablePrefix?: string;
  json?: boolean;
}

/** `warren stream status|reset`: a consumer group's partitions, owners, offsets and lag; replay from any point. */
export function registerStreamCommands(program: Command): void {
  const stream = program.command('stream').description('consumer groups on partitioned streams: status and offset reset (replay)');
  common(stream.command('status').description('per partition: owner, generation, committed offset, end offset, lag')).action(async (flags: Common) => {
    const { context, plan } = await contextOf(flags);
    const rows = await groupStatus(context, findStream(plan, flags.stream), flags.group);
    process.stdout.write(flags.json ? `${JSON.stringify({ group: flags.group, partitions: rows })}\n` : formatStatus(flags.group, rows));
  });
  common(stream.command('reset').description('move the group to an offset, a time or an end of each partition; its members re-read from there'))
    .requiredOption('--to <where>', 'first | last | <offset> | <ISO time> | <duration> ago (e.g. "2h ago")')
    .option('--partition <n>', 'only this partition (default: every partition)')
    .option('--dry-run', 'show where each partition would restart, change nothing')
    .action(async (flags: Common & { to: string; partition?: string; dryRun?: boolean }) => {
      let target;
      try {
        target = parseResetTarget(flags.to, new Date());
      } catch (error) {
        if (error instanceof ResetTargetError) throw new CliExit(EXIT.invalid, error.message);
        throw error;
      }
      const partition = flags.partition === undefined ? undefined : Number(flags.partition);
      if (partition !== undefined && !Number.isInteger(partition)) throw new CliExit(EXIT.invalid, '--partition must be an integer');
      const { context, plan } = await contextOf(flags);
      const rows = await resetGroup(context, findStream(plan, flags.stream), flags.group, target, {
        ...(partition !== undefined && { partition }),
        dryRun: flags.dryRun === true,
      });
      process.stdout.write(flags.json ? `${JSON.stringify({ group: flags.group, dryRun: flags.dryRun === true, partitions: rows })}\n` : formatReset(flags.group, rows, flags.dryRun === true));
    });
}

function common(command: Command): Command {
  return command
    .addOption(new Option('--topology <file>', 'topology file').env('WARREN_TOPOLOGY').makeOptionMandatory())
    .option('--stream <name>', 'the stream (default: the topology\'s only one)')
    .requiredOption('--group <name>', 'consumer group')
    .addOption(new Option('--table-prefix <prefix>', 'prefix of the group tables in PostgreSQL').env('WARREN_STREAM_TABLE_PREFIX').default('warren_'))
    .option('--json', 'machine-readable output');
}

async function contextOf(flags: Common): Promise<{ context: AdminContext; plan: AdminContext['plan'] }> {
  const config = loadConfig();
  if (config.databaseUrl === undefined) throw new CliExit(EXIT.invalid, 'DATABASE_URL is not set: group offsets live in PostgreSQL');
  const { plan } = await loadTopology(flags.topology);
  return {
    plan,
    context: { plan, amqpUrls: config.amqpUrls, databaseUrl: config.databaseUrl, ...(flags.tablePrefix !== undefined && { tablePrefix: flags.tablePrefix }) },
  };
}

const show = (value: number | string | null | undefined) => (value === null || value === undefined ? '-' : String(value));

export function formatStatus(group: string, rows: readonly PartitionStatus[]): string {
  const lines = [`group ${group}`, '  partition  owner                          gen  committed        end        lag'];
  for (const row of rows) {
    lines.push(
      `  ${String(row.partition).padEnd(9)}  ${show(row.owner).padEnd(30)} ${String(row.generation).padStart(4)}  ${show(row.committed).padStart(9)}  ${show(row.end).padStart(9)}  ${show(row.lag).padStart(9)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function formatReset(group: string, rows: readonly ResetRow[], dryRun: boolean): string {
  const lines = [`group ${group}${dryRun ? ' (dry run: nothing changed)' : ''}`];
  for (const row of rows) {
    const from = row.firstTimestamp !== undefined ? ` (first record published ${row.firstTimestamp})` : '';
    lines.push(`  partition ${row.partition}: committed ${show(row.committed)} -> ${row.newCommitted}, restarts at ${row.restartAt}${from}`);
  }
  if (!dryRun) lines.push('Live members re-read from there on their next heartbeat (their commits for the old position are fenced).');
  return `${lines.join('\n')}\n`;
}
