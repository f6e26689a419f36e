import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { encodeVhost, ManagementClient } from '../../../src/broker/management.ts';
import { DEFAULT_AMQP_URL, DEFAULT_MANAGEMENT_URL, parseAmqpUrls, withVhost } from '../../../src/broker/urls.ts';
import { startPrivateNode } from '../../../src/broker/private-node.ts';

/** The broker the chaos run restarts: a private node by default, AMQP_URL's only with --use-env-broker. */
export interface ChaosBroker {
  amqpUrl: string;
  managementUrl: string;
  description: string;
  restart(downMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function privateBroker(): Promise<ChaosBroker> {
  const node = await startPrivateNode();
  return {
    amqpUrl: node.amqpUrl,
    managementUrl: node.managementUrl,
    description: `private node ${node.nodeName}`,
    async restart(downMs) {
      await node.ctl('stop_app');
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await node.ctl('start_app');
    },
    close: () => node.stop(),
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
    amqpUrl: withVhost(base, vhost),
    managementUrl,
    description: `AMQP_URL broker, vhost ${vhost} (restarted with rabbitmqctl stop_app/start_app)`,
    async restart(downMs) {
      try {
        await ctl('rabbitmqctl', ['stop_app']);
        await new Promise((resolve) => setTimeout(resolve, downMs));
      } finally {
        await ctl('rabbitmqctl', ['start_app']);
      }
    },
    close: () => management.delete(`/vhosts/${encodeVhost(vhost)}`).catch(() => undefined),
  };
}
