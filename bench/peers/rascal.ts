import { childResult } from '../lib/processes.ts';

/**
 * Rascal, the closest AMQP peer, in a child process (rascal-child.ts), with
 * its default configuration. Consume: the same as bench/lib/raw-amqplib.ts's
 * `rawConsume` (a queue filled beforehand, manual ack, the same prefetch).
 * Messages/s.
 */
export async function rascalConsume(url: string, queue: string, options: { prefetch: number; count: number }): Promise<number> {
  const result = await childResult<{ rate: number }>(
    ['--import', 'tsx', 'bench/peers/rascal-child.ts', 'consume', url, queue, String(options.prefetch), String(options.count)],
    {},
    // Generous: at prefetch 1 on a loaded machine a few hundred msg/s.
    120_000 + options.count * 10,
  );
  return result.rate;
}

/** Confirmed publishes of `size` bytes to `queue` (Rascal's default publication: persistent, mandatory, confirmed), `window` awaiting a confirm. Messages/s. */
export async function rascalConfirmedPublish(url: string, queue: string, options: { count: number; size: number; window: number }): Promise<number> {
  const result = await childResult<{ rate: number }>(
    ['--import', 'tsx', 'bench/peers/rascal-child.ts', 'publish', url, queue, String(options.window), String(options.count), String(options.size)],
    {},
    120_000 + options.count * 10,
  );
  return result.rate;
}
