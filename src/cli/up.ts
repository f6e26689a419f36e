import type { Command } from 'commander';
import { PlanConflictError } from '../topology/apply.ts';
import { formatPlanReport } from '../topology/report-text.ts';
import { runDemo } from '../demo/run.ts';
import { startLiveView } from '../up/live.ts';
import { startUp, type UpSession } from '../up/session.ts';
import { fallbackAllowed } from '../broker/find-broker.ts';
import { loadConfig } from '../config.ts';
import { CliExit, EXIT } from './exit.ts';

/**
 * `warren up` (= `npm start`): topology + producer + every example worker,
 * with a live view, until Ctrl-C. `warren demo` (= `npm run demo`): the
 * same in a vhost of its own, driven through the REST API, checked, ended.
 */
export function registerUpCommands(program: Command): void {
  program
    .command('up')
    .description('apply the topology, start the HTTP producer and one process per example worker, show a live view until Ctrl-C')
    .requiredOption('--topology <file>', 'topology file (YAML or JSON)')
    .option('--port <n>', 'producer port (default: PORT or 8080)', parseCount('--port'))
    .option('--host <address>', 'producer address', '127.0.0.1')
    .option('--interval <ms>', 'live view refresh (default: 1000 on a terminal, 5000 otherwise)', parseCount('--interval'))
    .option('--insecure', 'no admin token of its own: the producer uses WARREN_API_TOKENS if set, else runs with every route open (also WARREN_INSECURE=1)')
    .action(async (flags: { topology: string; port?: number; host: string; interval?: number; insecure?: boolean }) => {
      // Listening from the start: a Ctrl-C while starting stops everything once it is up.
      const signal = untilSignal();
      let signalled = false;
      let started = false;
      void signal.then((received) => {
        signalled = true;
        if (!started) process.stderr.write(`warren up: ${received} while starting; stopping everything once it is up\n`);
      });
      const session = await start(() =>
        startUp({
          topologyFile: flags.topology,
          fallback: fallbackAllowed(process.env, true),
          port: flags.port ?? Number(process.env.PORT ?? 8080),
          host: flags.host,
          insecure: flags.insecure === true || loadConfig().insecure,
          say: (line) => process.stderr.write(`${line}\n`),
        }),
      );
      started = true;
      if (signalled) {
        await session.stop();
        process.stderr.write('warren up: stopped\n');
        return;
      }
      const view = startLiveView(session, {
        tty: process.stdout.isTTY === true,
        insecure: session.producer.insecure,
        ...(flags.interval !== undefined && { intervalMs: flags.interval }),
        write: (text) => process.stdout.write(text),
      });
      const received = await signal;
      view.stop();
      process.stderr.write(`warren up: ${received}, stopping workers, producer${session.broker.source === 'private-node' ? ' and the private broker' : ''}…\n`);
      await session.stop();
      process.stderr.write('warren up: stopped\n');
    });

  program
    .command('demo')
    .description('run the reference order bus end to end in a fresh vhost: orders over REST, poison and flaky ones, drain, check, summary; on a topology with streams (topology/orders-stream.yaml): order events, the consumer groups, exactly-once check, a replay of one group')
    .requiredOption('--topology <file>', 'topology file (the reference scenario: topology/orders.yaml, or topology/orders-stream.yaml as a log)')
    .option('--orders <n>', 'orders to create', parseCount('--orders'), 3000)
    .option('--poison <n>', 'poison orders among them (end in the fraud-audit DLQ; queue demo only)', parseCount('--poison'), 5)
    .option('--timeout <s>', 'how long to wait for every queue to drain (streams: for the groups to commit everything)', parseCount('--timeout'), 180)
    .option('--replay-group <group>', 'streams: the consumer group reset to a few seconds ago and replayed (default: analytics)')
    .option('--keep', 'keep the demo vhost (to look at it, or replay its DLQ) instead of deleting it')
    .action(async (flags: { topology: string; orders: number; poison: number; timeout: number; keep?: boolean; replayGroup?: string }) => {
      const result = await runDemo({
        topologyFile: flags.topology,
        orders: flags.orders,
        poison: flags.poison,
        timeoutMs: flags.timeout * 1000,
        keep: flags.keep === true,
        start,
        out: (text) => process.stdout.write(text),
        say: (line) => process.stderr.write(`${line}\n`),
        tty: process.stderr.isTTY === true,
        ...(flags.replayGroup !== undefined && { replayGroup: flags.replayGroup }),
      });
      if (!result.ok) throw new CliExit(EXIT.failure, `warren demo: ${result.problems.length} check(s) failed:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
    });
}

/** Starts a session; a conflicting topology prints the plan and exits 3, as `topology apply` does. */
async function start(open: () => Promise<UpSession>): Promise<UpSession> {
  try {
    return await open();
  } catch (error) {
    if (!(error instanceof PlanConflictError)) throw error;
    process.stdout.write(formatPlanReport(error.report));
    throw new CliExit(EXIT.conflict, 'the topology conflicts with the broker; nothing was declared and nothing started');
  }
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function parseCount(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CliExit(EXIT.invalid, `${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}
