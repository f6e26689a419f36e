import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { DEFAULT_AMQP_URL, DEFAULT_MANAGEMENT_URL, parseAmqpUrls, withVhost } from '../../src/broker/urls.ts';
import { isInterrupted, registerCleanup } from './cleanup.ts';

/** A vhost of the benchmark's own on the local broker, deleted by `cleanup` (or on Ctrl-C, see cleanup.ts). */
export interface BenchVhost {
  vhost: string;
  url: string;
  management: ManagementClient;
  cleanup(): Promise<void>;
}

export function brokerUrl(): string {
  return parseAmqpUrls(process.env.AMQP_URL ?? DEFAULT_AMQP_URL)[0] ?? DEFAULT_AMQP_URL;
}

export async function createBenchVhost(label: string, amqpUrl = brokerUrl()): Promise<BenchVhost> {
  if (isInterrupted()) throw new Error('interrupted');
  const management = new ManagementClient(process.env.RABBITMQ_MANAGEMENT_URL ?? DEFAULT_MANAGEMENT_URL);
  const vhost = `warren-bench-${label}-${Date.now().toString(36)}`;
  const remove = () => management.delete(`/vhosts/${encodeVhost(vhost)}`);
  // Registered before the PUT: a Ctrl-C between the two still deletes it (a missing vhost is no error).
  const unregister = registerCleanup(`vhost ${vhost}`, remove);
  await management.put(`/vhosts/${encodeVhost(vhost)}`, {});
  const user = new URL(amqpUrl).username || 'guest';
  await management.put(`/permissions/${encodeVhost(vhost)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  return {
    vhost,
    url: withVhost(amqpUrl, vhost),
    management,
    cleanup: async () => {
      await remove();
      unregister();
    },
  };
}

/** Runs `use` in a fresh vhost and always deletes it. */
export async function inBenchVhost<T>(label: string, use: (vhost: BenchVhost) => Promise<T>): Promise<T> {
  const vhost = await createBenchVhost(label);
  try {
    return await use(vhost);
  } finally {
    await vhost.cleanup().catch(() => undefined);
  }
}

/** One line of progress on stderr (stdout carries the table). */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
