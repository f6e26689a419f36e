import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The management API does not show `consumer_timeout`, so doctor asks the
 * node itself when `rabbitmqctl` can reach it (same machine, same Erlang
 * cookie). `undefined` when it cannot: doctor then says so.
 */
export async function readConsumerTimeout(nodeName: string): Promise<number | null | undefined> {
  try {
    const { stdout } = await run(
      'rabbitmqctl',
      ['-n', nodeName, '-q', 'eval', 'application:get_env(rabbit, consumer_timeout).'],
      { timeout: 10_000 },
    );
    return parseConsumerTimeout(stdout);
  } catch {
    return undefined;
  }
}

/**
 * Pure: `{ok,1800000}` → 1800000; `{ok,false}`, `{ok,infinity}` or
 * `undefined` (not set, which disables it on nodes older than 3.8.15) →
 * `null`; anything else → `undefined` (unreadable).
 */
export function parseConsumerTimeout(output: string): number | null | undefined {
  const text = output.trim();
  const number = /^\{ok,\s*(\d+)\}$/.exec(text);
  if (number) return Number(number[1]);
  if (/^\{ok,\s*(false|infinity|undefined)\}$/.test(text) || text === 'undefined') return null;
  return undefined;
}
