/**
 * `warren serve` without the rest of the CLI: the producer from a topology
 * file on a port, until SIGTERM. Used by the benchmarks and the chaos suite
 * so an unrelated CLI sub-command can never stop them.
 *   node --import tsx bench/lib/serve-child.ts <topology> <port>
 */
import { startProducer } from '../../src/producer/index.ts';

const [topologyFile, port] = process.argv.slice(2);
if (topologyFile === undefined || port === undefined) throw new Error('usage: serve-child.ts <topology> <port>');
// Benchmarks and the chaos run drive it from this machine without tokens.
const producer = await startProducer({ topologyFile, host: '127.0.0.1', port: Number(port), insecure: true });
const stop = () => void producer.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
