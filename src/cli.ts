import { Command, CommanderError } from 'commander';
import { redactText } from './broker/urls.ts';
import { registerDelayCommands } from './cli/delay.ts';
import { registerDevCommands } from './cli/dev.ts';
import { registerDlqCommands } from './cli/dlq.ts';
import { registerDoctorCommand } from './cli/doctor.ts';
import { loadDotEnv } from './cli/env-file.ts';
import { registerInitCommand } from './cli/init.ts';
import { registerJobCommand } from './cli/job.ts';
import { CliExit, EXIT } from './cli/exit.ts';
import { registerScheduleCommands } from './cli/schedules.ts';
import { registerServeCommand } from './cli/serve.ts';
import { registerStreamCommands } from './cli/stream.ts';
import { registerTopologyCommands } from './cli/topology.ts';
import { registerTypesCommand } from './cli/types.ts';
import { registerUpCommands } from './cli/up.ts';
import { registerWorkerCommand } from './cli/worker.ts';
import { BrokerUnavailableError, TopologyError } from './errors.ts';
import { packageVersion } from './package-version.ts';

loadDotEnv();

const program = new Command('warren')
  .description('Job processing on RabbitMQ: topology as code, REST enqueue, effect-once workers, DLQ replay')
  .version(packageVersion())
  .exitOverride()
  .showHelpAfterError();

registerTopologyCommands(program);
registerServeCommand(program);
registerWorkerCommand(program);
registerScheduleCommands(program);
registerDlqCommands(program);
registerStreamCommands(program);
registerUpCommands(program);
registerDoctorCommand(program);
registerDevCommands(program);
registerTypesCommand(program);
registerInitCommand(program);
registerJobCommand(program);
registerDelayCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are successes; bad flags are invalid input.
    return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
  }
  if (error instanceof CliExit) {
    if (error.message) process.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof TopologyError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.invalid;
  }
  const message = redactText(error instanceof Error ? error.message : String(error));
  process.stderr.write(`warren: ${message}\n`);
  return error instanceof BrokerUnavailableError ? EXIT.unreachable : EXIT.failure;
}
