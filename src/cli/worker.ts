import type { Command } from 'commander';
import { TopologyError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { runWorkers, WorkerModuleError, type Worker } from '../worker/index.ts';
import { CliExit, EXIT } from './exit.ts';

interface WorkerFlags {
  topology: string;
  metricsPort: string;
  shutdownTimeout: string;
}

/** `warren worker <module|consumer-name>... --topology <file>`: runs workers until SIGTERM/SIGINT. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run worker modules (paths, or consumer names resolved to workers/<name>.ts) until SIGTERM/SIGINT')
    .argument('<modules...>', 'worker module paths or consumer names')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--metrics-port <port>', 'HTTP port for /metrics and /healthz (0 = off)', process.env.WARREN_METRICS_PORT ?? '0')
    .option('--shutdown-timeout <ms>', 'time in-flight jobs get to finish on SIGTERM', '10000')
    .action(async (modules: string[], flags: WorkerFlags) => {
      const metricsPort = integerFlag('--metrics-port', flags.metricsPort);
      const shutdownTimeoutMs = integerFlag('--shutdown-timeout', flags.shutdownTimeout);
      const logger = createLogger('warren-worker');
      let worker: Worker;
      try {
        worker = await runWorkers({ topology: flags.topology, workers: modules, metricsPort, shutdownTimeoutMs, logger });
      } catch (error) {
        if (error instanceof WorkerModuleError || error instanceof RangeError) throw new CliExit(EXIT.invalid, error.message);
        if (error instanceof TopologyError) throw error;
        throw error;
      }
      await untilSignal(worker, shutdownTimeoutMs);
    });
}

/** Resolves once a SIGTERM/SIGINT has stopped the worker gracefully. */
function untilSignal(worker: Worker, shutdownTimeoutMs: number): Promise<void> {
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
