import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { encodeVhost, ManagementClient } from '../../../src/broker/management.ts';
import { DEFAULT_AMQP_URL, DEFAULT_MANAGEMENT_URL, parseAmqpUrls, withVhost } from '../../../src/broker/urls.ts';
import { startPrivateNode } from '../../../src/broker/private-node.ts';
import { LocalCluster } from '../../../src/provision/cluster.ts';

/**
 * The broker the chaos run fires at: a private node by default, AMQP_URL's
 * only with --use-env-broker, a local three-node cluster with --cluster.
 */
export interface ChaosBroker {
  /** Every node (one, unless a cluster). */
  amqpUrls: string[];
  managementUrls: string[];
  /** The vhost the run uses. */
  vhost: string;
  description: string;
  /** One node: stop_app, wait, start_app. `undefined` on a cluster (its nodes are killed instead). */
  restart: ((downMs: number) => Promise<void>) | undefined;
  /** The cluster, when the run has one. */
  cluster: LocalCluster | undefined;
  close(): Promise<void>;
}

export async function privateBroker(): Promise<ChaosBroker> {
  const node = await startPrivateNode();
  // A run that dies must not leave its node running: stop it on the way out (synchronously).
  const onExit = () => {
    try {
      execFileSync('rabbitmqctl', ['-n', node.nodeName, 'stop'], { stdio: 'ignore', timeout: 60_000 });
    } catch {
      // best effort
    }
  };
  process.once('exit', onExit);
  return {
    amqpUrls: [node.amqpUrl],
    managementUrls: [node.managementUrl],
    vhost: '/',
    description: `private node ${node.nodeName}`,
    async restart(downMs) {
      await node.ctl('stop_app');
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await node.ctl('start_app');
    },
    cluster: undefined,
    close: () => {
      process.removeListener('exit', onExit);
      return node.stop();
    },
  };
}

/** A local three-node cluster of its own, stopped (and its files removed) at the end, also when the run dies. */
export async function clusterBroker(log: (line: string) => void): Promise<ChaosBroker> {
  const cluster = (await LocalCluster.start({ log })).stopOnExit();
  return {
    amqpUrls: cluster.amqpUrls,
    managementUrls: cluster.managementUrls,
    vhost: '/',
    description: `local cluster ${cluster.nodes.map((n) => n.nodeName).join(', ')}`,
    restart: undefined,
    cluster,
    // A throwaway cluster: SIGKILL is as good as a shutdown and ten seconds faster.
    close: () => cluster.destroy(),
  };
}

/** Uses AMQP_URL's broker in a vhost of its own; restarts the local default node with rabbitmqctl. */
export async function envBroker(run: string): Promise<ChaosBroker> {
  const ctl = promisify(execFile);
  const base = parseAmqpUrls(process.env.AMQP_URL ?? DEFAULT_AMQP_URL)[0] ?? DEFAULT_AMQP_URL;
  const managementUrl = process.env.RABBITMQ_MANAGEMENT_URL ?? DEFAULT_MANAGEMENT_URL;
  const management = new ManagementClient(managementUrl);
  const vhost = `warren-chaos-${run}`;
  await management.put(`/vhosts/${encodeVhost(vhost)}`, {});
  const user = new URL(base).username || 'guest';
  await management.put(`/permissions/${encodeVhost(vhost)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  return {
    amqpUrls: [withVhost(base, vhost)],
    managementUrls: [managementUrl],
    vhost,
    description: `AMQP_URL broker, vhost ${vhost} (restarted with rabbitmqctl stop_app/start_app)`,
    async restart(downMs) {
      try {
        await ctl('rabbitmqctl', ['stop_app']);
        await new Promise((resolve) => setTimeout(resolve, downMs));
      } finally {
        await ctl('rabbitmqctl', ['start_app']);
      }
    },
    cluster: undefined,
    close: () => management.delete(`/vhosts/${encodeVhost(vhost)}`).catch(() => undefined),
  };
}
