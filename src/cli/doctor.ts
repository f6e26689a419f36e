import type { Command } from 'commander';
import { managementUrlFor } from '../broker/find-broker.ts';
import { parseAmqpUrls, redactUrl } from '../broker/urls.ts';
import { runChecks } from '../doctor/checks.ts';
import { inspect } from '../doctor/inspect.ts';
import { buildReport, formatReport } from '../doctor/report.ts';
import { STREAM_CHECK_DEFAULTS } from '../doctor/stream-checks.ts';
import { longestWorkerTimeout } from '../doctor/worker-timeout.ts';
import { WorkerModuleError } from '../worker/load.ts';
import { CliExit, EXIT } from './exit.ts';

/** `warren doctor` exits with this when it found at least one problem (warnings alone exit 0). */
export const DOCTOR_PROBLEMS_EXIT = 5;

interface DoctorFlags {
  topology?: string;
  json?: boolean;
  workerTimeout: string[];
  worker: string[];
  streamLagWarn: string;
  streamTablePrefix?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * `warren doctor [--topology <file>] [--json]`: what will bite you on this
 * broker. Exit 0 clean (warnings allowed), 5 problems found, 4 broker or
 * management API unreachable, 1 invalid input.
 */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check the broker at AMQP_URL (any node of a cluster): versions, plugins, alarms, cluster nodes, partitions, quorum members, queue leaders, classic queues on a cluster, quorum dead-lettering, consumer_timeout, topology drift; with --topology, its streams (partition queues; with DATABASE_URL, each consumer group\'s owners, heartbeats, lag and retention loss)',
    )
    .option('--topology <file>', 'also diff this topology file against the broker (its vhost is the one checked)')
    .option('--worker-timeout <duration>', 'a worker timeoutMs to compare with consumer_timeout (repeatable; the longest counts)', collect, [])
    .option('--worker <module>', 'read timeoutMs from a worker module or consumer name (repeatable)', collect, [])
    .option('--stream-lag-warn <records>', 'warn when a stream consumer group lags more records than this on one partition', String(STREAM_CHECK_DEFAULTS.lagWarnRecords))
    .option('--stream-table-prefix <prefix>', "table prefix of the stream consumer groups' tables (as the workers' tablePrefix)")
    .option('--json', 'machine-readable output')
    .action(async (flags: DoctorFlags) => {
      const workerTimeout = await longestWorkerTimeout(flags.workerTimeout, flags.worker).catch((error: unknown) => {
        if (error instanceof RangeError || error instanceof WorkerModuleError) throw new CliExit(EXIT.invalid, error.message);
        throw error;
      });
      const lagWarnRecords = Number(flags.streamLagWarn);
      if (!Number.isInteger(lagWarnRecords) || lagWarnRecords < 0) throw new CliExit(EXIT.invalid, `--stream-lag-warn must be a whole number of records, not ${flags.streamLagWarn}`);
      const amqpUrls = parseAmqpUrls(process.env.AMQP_URL);
      const { facts, amqpUrl } = await inspect({
        amqpUrls,
        managementUrl: managementUrlFor(process.env),
        ...(flags.topology !== undefined && { topologyFile: flags.topology }),
        workerTimeout,
        databaseUrl: process.env.DATABASE_URL || undefined,
        ...(flags.streamTablePrefix !== undefined && { streamTablePrefix: flags.streamTablePrefix }),
      });
      const report = buildReport(facts, runChecks(facts, { lagWarnRecords }), redactUrl(amqpUrl));
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      if (!report.ok) throw new CliExit(DOCTOR_PROBLEMS_EXIT);
    });
}
