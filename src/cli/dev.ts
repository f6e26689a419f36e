import type { Command } from 'commander';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { canStartPrivateNode } from '../broker/private-node.ts';
import { LocalCluster } from '../provision/cluster.ts';
import { CliExit, EXIT } from './exit.ts';

/** Where `warren dev cluster` keeps its nodes and state unless told otherwise. */
export function defaultClusterDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.WARREN_CLUSTER_DIR ?? join(tmpdir(), 'warren-dev-cluster');
}

interface ClusterFlags {
  dir?: string;
  nodes: string;
}

/**
 * `warren dev cluster up|down`: a local RabbitMQ cluster of private nodes
 * for development, without Docker (src/provision/cluster.ts). `up` prints
 * the `export` lines for AMQP_URL and RABBITMQ_MANAGEMENT_URL on stdout
 * (progress goes to stderr), so `eval "$(warren dev cluster up)"` works;
 * `down` stops the nodes and removes their files. Both find the cluster by
 * its directory (`--dir`, WARREN_CLUSTER_DIR, else <tmp>/warren-dev-cluster).
 */
export function registerDevCommands(program: Command): void {
  const dev = program.command('dev').description('development helpers');
  const cluster = dev.command('cluster').description('a local three-node RabbitMQ cluster of private nodes (needs rabbitmq-server installed)');
  const say = (line: string) => process.stderr.write(`${line}\n`);

  cluster
    .command('up')
    .description('start the cluster (or the stopped nodes of an existing one) and print the AMQP_URL and RABBITMQ_MANAGEMENT_URL to export')
    .option('--dir <dir>', 'where the nodes keep config, data, logs and the state file (default: WARREN_CLUSTER_DIR or <tmp>/warren-dev-cluster)')
    .option('--nodes <n>', 'number of nodes of a new cluster', '3')
    .action(async (flags: ClusterFlags) => {
      const size = Number(flags.nodes);
      if (!Number.isInteger(size) || size < 1 || size > 9) throw new CliExit(EXIT.invalid, '--nodes: a whole number from 1 to 9');
      if (!(await canStartPrivateNode())) {
        throw new CliExit(EXIT.unreachable, 'warren dev cluster needs RabbitMQ installed (rabbitmq-server and rabbitmqctl on the PATH)');
      }
      const dir = resolve(flags.dir ?? defaultClusterDir());
      const existing = LocalCluster.open(dir);
      let running: LocalCluster;
      if (existing) {
        const started = await existing.startStopped({ log: say });
        say(started.length === 0 ? `cluster in ${dir} is already up` : `started ${started.map((n) => n.name).join(', ')} of the cluster in ${dir}`);
        running = existing;
      } else {
        running = await LocalCluster.start({ dir, size, log: say });
      }
      for (const node of running.nodes) say(`  ${node.name}  ${node.nodeName}  amqp :${node.spec.amqpPort}  management :${node.spec.managementPort}`);
      say(`stop it with: warren dev cluster down${flags.dir ? ` --dir ${dir}` : ''}`);
      process.stdout.write(`${running.exportLines().join('\n')}\n`);
    });

  cluster
    .command('down')
    .description('stop the cluster\'s nodes and remove their files')
    .option('--dir <dir>', 'the directory given to `up` (default: WARREN_CLUSTER_DIR or <tmp>/warren-dev-cluster)')
    .action(async (flags: Omit<ClusterFlags, 'nodes'>) => {
      const dir = resolve(flags.dir ?? defaultClusterDir());
      const existing = LocalCluster.open(dir);
      if (!existing) {
        say(`no cluster in ${dir}: nothing to stop`);
        return;
      }
      await existing.stop();
      say(`stopped the cluster in ${dir} and removed its files`);
    });
}
