/**
 * `npm run chaos -- --streams [--events N] [--keys K]`: the streams scenario
 * (test/chaos/lib/streams-scenario.ts) at full size, 100,000 events over 1,000
 * keys by default, on the broker and PostgreSQL of the environment
 * (AMQP_URL, RABBITMQ_MANAGEMENT_URL, DATABASE_URL), in a vhost and tables
 * of its own. Exits 1 on any mismatch.
 */
import { runStreamsChaos } from './lib/streams-scenario.ts';

export async function streamsChaosMain(argv: readonly string[]): Promise<number> {
  const value = (flag: string, fallback: number) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? Number(argv[index + 1]) : fallback;
  };
  process.env.AMQP_URL ??= 'amqp://guest:guest@127.0.0.1:5672';
  process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
  const log = (line: string) => void process.stderr.write(`[chaos streams ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const report = await runStreamsChaos({ events: value('--events', 100_000), keys: value('--keys', 1_000), log });
  const ok = report.rows === report.events && report.distinct === report.events && report.outOfOrderKeys === 0 && report.sharedGenerations === 0;
  process.stdout.write(`STREAMS CHAOS ${ok ? 'PASSED' : 'FAILED'} ${JSON.stringify(report)}\n`);
  return ok ? 0 : 1;
}
