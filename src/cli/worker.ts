import { Option, type Command } from 'commander';
import { TopologyError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { loadConfig } from '../config.ts';
import { MissingSettingError, startWorkerSet, WorkerModuleError, type RunningWorkerSet } from '../worker/index.ts';
import { CliExit, EXIT } from './exit.ts';

interface WorkerFlags {
  topology: string;
  metricsPort: string;
  shutdownTimeout: string;
  tablePrefix: string;
}

/**
 * `warren worker <module|name>... --topology <file>`: runs job workers and
 * stream group members until SIGTERM/SIGINT. A name resolves to
 * `workers/<name>.ts`: a consumer's name, or `<stream>.<group>` for a group.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run worker modules (paths, or names resolved to workers/<name>.ts: a consumer, or <stream>.<group> for a stream group) until SIGTERM/SIGINT')
    .argument('<modules...>', 'worker module paths, consumer names or <stream>.<group> names')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--metrics-port <port>', 'HTTP port for /metrics and /healthz (0 = off)', process.env.WARREN_METRICS_PORT ?? '0')
    .option('--shutdown-timeout <ms>', 'time in-flight jobs get to finish on SIGTERM', '10000')
    .addOption(new Option('--table-prefix <prefix>', "table prefix of the stream groups' member and offset tables").env('WARREN_STREAM_TABLE_PREFIX').default('warren_'))
    .action(async (modules: string[], flags: WorkerFlags) => {
      const metricsPort = integerFlag('--metrics-port', flags.metricsPort);
      const shutdownTimeoutMs = integerFlag('--shutdown-timeout', flags.shutdownTimeout);
      const logger = createLogger('warren-worker');
      let worker: RunningWorkerSet;
      try {
        worker = await startWorkerSet({
          topology: flags.topology,
          workers: modules,
          metricsPort,
          shutdownTimeoutMs,
          logger,
          databaseUrl: loadConfig().databaseUrl,
          streamTablePrefix: flags.tablePrefix,
        });
      } catch (error) {
        if (error instanceof WorkerModuleError || error instanceof MissingSettingError || error instanceof RangeError) throw new CliExit(EXIT.invalid, error.message);
        if (error instanceof TopologyError) throw error;
        throw error;
      }
      await untilSignal(worker, shutdownTimeoutMs);
    });
}

/** Resolves once a SIGTERM/SIGINT has stopped the worker gracefully. */
function untilSignal(worker: RunningWorkerSet, shutdownTimeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      process.stderr.write(`warren worker: ${signal} received, stopping (up to ${shutdownTimeoutMs} ms)\n`);
      void worker.stop().then(() => {
        process.exitCode = EXIT.ok;
        // Every handle is closed by now; this only guards against a stray
        // library timer keeping a stopped worker alive.
        setTimeout(() => process.exit(EXIT.ok), 2_000).unref();
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function integerFlag(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new CliExit(EXIT.invalid, `${name} must be a non-negative integer, got "${value}"`);
  return parsed;
}
