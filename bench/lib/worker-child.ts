/**
 * `warren worker` without the rest of the CLI: runs worker modules against a
 * topology file until SIGTERM. Used by the benchmarks and the chaos suite.
 *   node --import tsx bench/lib/worker-child.ts <topology> <module>...
 */
import { runWorkers } from '../../src/worker/index.ts';

const [topology, ...workers] = process.argv.slice(2);
if (topology === undefined || workers.length === 0) throw new Error('usage: worker-child.ts <topology> <module>...');
const worker = await runWorkers({ topology, workers });
const stop = () => void worker.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
