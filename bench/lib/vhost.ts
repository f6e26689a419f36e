import { randomBytes } from 'node:crypto';
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
  const vhost = `warren-bench-${label}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const remove = () => management.delete(`/vhosts/${encodeVhost(vhost)}`);
  // Registered before the PUT: a Ctrl-C between the two still deletes it (a missing vhost is no error).
  const unregister = registerCleanup(`vhost ${vhost}`, remove);
  try {
    await management.put(`/vhosts/${encodeVhost(vhost)}`, {});
    const user = new URL(amqpUrl).username || 'guest';
    await management.put(`/permissions/${encodeVhost(vhost)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  } catch (error) {
    await remove().then(unregister, () => undefined);
    throw error;
  }
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
export async function inBenchVhost<T>(label: string, use: (vhost: BenchVhost) => Promise<T>, amqpUrl?: string): Promise<T> {
  const vhost = await createBenchVhost(label, amqpUrl);
  try {
    return await use(vhost);
  } finally {
    // Not thrown (it would hide `use`'s own error); it stays registered, so Ctrl-C or exit tries again.
    await vhost.cleanup().catch((error: unknown) => progress(`could not delete vhost ${vhost.vhost}: ${error instanceof Error ? error.message : String(error)}`));
  }
}

/** One line of progress on stderr (stdout carries the table). */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
