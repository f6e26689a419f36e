import { progress } from '../lib/vhost.ts';

/**
 * Runs one peer's measurement; a peer that fails gets NaN (the table says
 * "failed" and the run exits 1) rather than failing the part, so warren's and
 * raw's rows of that part are still measured.
 */
export async function measurePeer(peer: string, measure: () => Promise<number>): Promise<number> {
  try {
    return await measure();
  } catch (error) {
    progress(`${peer} FAILED: ${error instanceof Error ? error.message : String(error)}`);
    return Number.NaN;
  }
}
