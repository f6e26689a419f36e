import type { Command } from 'commander';
import { startProducer } from '../producer/index.ts';
import { CliExit, EXIT } from './exit.ts';

/** `warren serve --topology <file> [--port N] [--host H]`: the HTTP producer, until SIGINT/SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('HTTP producer: POST /v1/jobs/{jobType} answers 202 only after the broker confirmed the job')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--port <n>', 'port to listen on (default: PORT or 8080)', parsePort)
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .action(async (options: { topology: string; port?: number; host: string }) => {
      const producer = await startProducer({
        topologyFile: options.topology,
        host: options.host,
        ...(options.port !== undefined && { port: options.port }),
      });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await producer.close();
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new CliExit(EXIT.invalid, `invalid --port: ${value}`);
  return port;
}
