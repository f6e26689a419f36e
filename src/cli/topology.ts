import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { applyTopology, PermissionRefusedError, planTopology, PlanConflictError, targetVhost, type PlanReport } from '../topology/apply.ts';
import { DeclarationRefusedError } from '../topology/declare.ts';
import { hasConflicts } from '../topology/diff.ts';
import { exportDefinitions } from '../topology/export.ts';
import { loadTopology } from '../topology/load.ts';
import { formatApplyReport, formatPlanReport } from '../topology/report-text.ts';
import { CliExit, EXIT } from './exit.ts';

/**
 * `warren topology validate|plan|apply|export`. Invalid files throw
 * `TopologyError` (exit 1, one `file:line:col: message` per line), an
 * unreachable broker `BrokerUnavailableError` (exit 4); cli.ts prints both.
 */
export function registerTopologyCommands(program: Command): void {
  const topology = program.command('topology').description('validate, plan, apply and export a topology file');

  topology
    .command('validate <file>')
    .description('check a topology file; never touches a broker')
    .action(async (file: string) => {
      const { plan } = await loadTopology(file);
      const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
      process.stdout.write(
        `${file}: valid (${count(plan.exchanges.length, 'exchange')}, ${count(plan.queues.length, 'queue')}, ` +
          `${count(plan.bindings.length, 'binding')}, ${count(plan.jobs.length, 'job')}, ${count(plan.consumers.length, 'consumer')})\n`,
      );
    });

  topology
    .command('plan <file>')
    .description('compare the file with the broker: create / unchanged / CONFLICT per object')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { json?: boolean }) => {
      const { plan } = await loadTopology(file);
      const report = await planTopology(plan, brokerTarget());
      writeReport(report, options.json, formatPlanReport);
      if (hasConflicts(report)) throw new CliExit(EXIT.conflict);
    });

  topology
    .command('apply <file>')
    .description('declare what is missing; declares nothing if any object conflicts')
    .option('--json', 'machine-readable output')
    .option('--force-declare', 'without the management API, check conflicts by redeclaring over AMQP and apply')
    .action(async (file: string, options: { json?: boolean; forceDeclare?: boolean }) => {
      const { plan } = await loadTopology(file);
      try {
        const report = await applyTopology(plan, brokerTarget(), { forceDeclare: options.forceDeclare ?? false });
        writeReport(report, options.json, formatApplyReport);
      } catch (error) {
        // What the broker has or would refuse: exit 3 with the reason in a line, never a stack trace.
        if (error instanceof PermissionRefusedError) throw new CliExit(EXIT.conflict, error.message);
        if (error instanceof DeclarationRefusedError) throw new CliExit(EXIT.conflict, `apply failed: ${error.message}`);
        if (!(error instanceof PlanConflictError)) throw error;
        writeReport(error.report, options.json, formatPlanReport);
        throw new CliExit(EXIT.conflict, 'apply refused: the topology conflicts with the broker; nothing was declared');
      }
    });

  topology
    .command('export <file>')
    .description('RabbitMQ definitions JSON (for rabbitmqctl import_definitions)')
    .option('--out <path>', 'write to a file instead of stdout')
    .option('--vhost <name>', 'vhost to put in the definitions (default: the file\'s, else the one in AMQP_URL)')
    .action(async (file: string, options: { out?: string; vhost?: string }) => {
      const { plan } = await loadTopology(file);
      const vhost = options.vhost ?? targetVhost(plan, loadConfig().amqpUrls);
      const text = `${JSON.stringify(exportDefinitions(plan, vhost), null, 2)}\n`;
      if (options.out) await writeFile(options.out, text);
      else process.stdout.write(text);
    });
}

function brokerTarget() {
  const config = loadConfig();
  return { amqpUrls: config.amqpUrls, managementUrl: config.managementUrl };
}

function writeReport<R extends PlanReport>(report: R, json: boolean | undefined, format: (report: R) => string): void {
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
}
