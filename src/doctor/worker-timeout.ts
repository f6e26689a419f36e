import { parseDuration } from '../duration.ts';
import { loadWorkerModule } from '../worker/load.ts';
import { WORKER_DEFAULTS } from '../worker/options.ts';

/**
 * The longest handler timeout of the workers that will consume from the
 * broker: what `consumer_timeout` must exceed. From `--worker-timeout`
 * durations and from worker modules (`--worker <module|consumer>`, loaded
 * for their `timeoutMs` only); warren's default when neither is given.
 */
export async function longestWorkerTimeout(
  durations: readonly string[],
  modules: readonly string[],
): Promise<{ ms: number; source: string }> {
  const candidates: Array<{ ms: number; source: string }> = [];
  for (const text of durations) {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) throw new RangeError(`--worker-timeout: "${text}" is not a duration (e.g. 30s, 5m, 90000)`);
    candidates.push({ ms, source: '--worker-timeout' });
  }
  for (const spec of modules) {
    const definition = await loadWorkerModule(spec);
    candidates.push({ ms: definition.timeoutMs ?? WORKER_DEFAULTS.timeoutMs, source: `timeoutMs of worker ${definition.consumer}` });
  }
  if (candidates.length === 0) return { ms: WORKER_DEFAULTS.timeoutMs, source: "warren's default timeoutMs" };
  return candidates.reduce((longest, candidate) => (candidate.ms > longest.ms ? candidate : longest));
}
