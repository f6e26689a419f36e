import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { ListenError, MissingApiTokensError, startProducer } from '../producer/index.ts';
import { CliExit, EXIT } from './exit.ts';

/**
 * `warren serve --topology <file> [--port N] [--host H] [--insecure]`: the
 * HTTP producer, until SIGINT/SIGTERM. Closed by default: 127.0.0.1, and no
 * start without `WARREN_API_TOKENS` unless `--insecure` says so out loud.
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('HTTP producer: POST /v1/jobs/{jobType} answers 202 only after the broker confirmed the job')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--port <n>', 'port to listen on (default: PORT or 8080)', parsePort)
    .option('--host <address>', 'address to listen on (default: HOST or 127.0.0.1; 0.0.0.0 for every interface)')
    .option('--insecure', 'run without API tokens: every route, admin included, open to whoever reaches it (also WARREN_INSECURE=1)')
    .action(async (options: { topology: string; port?: number; host?: string; insecure?: boolean }) => {
      const config = loadConfig();
      const producer = await startProducer({
        topologyFile: options.topology,
        host: options.host ?? config.host,
        insecure: options.insecure === true || config.insecure,
        ...(options.port !== undefined && { port: options.port }),
      }).catch((error: unknown) => {
        if (error instanceof MissingApiTokensError || error instanceof ListenError) {
          throw new CliExit(error instanceof MissingApiTokensError ? EXIT.invalid : EXIT.failure, `warren serve: ${error.message}`);
        }
        throw error;
      });
      // A person reads stderr, not the JSON log: say where it listens, and say it loudly when it is open.
      process.stderr.write(`warren serve: listening on ${producer.url}\n`);
      process.stderr.write(`warren serve: console at ${producer.url}/console (admin token)\n`);
      if (producer.insecure) {
        process.stderr.write(
          `warren serve: !! INSECURE: no API tokens — every route, DLQ replay and purge included, is open to whoever can reach ${producer.url}\n`,
        );
      }
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
