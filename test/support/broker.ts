import { randomBytes } from 'node:crypto';
import { encodeVhost, ManagementClient } from '../../src/broker/management.ts';
import { withVhost } from '../../src/broker/urls.ts';

export interface TestVhost {
  vhost: string;
  /** AMQP URL of the shared broker, pointing at this vhost. */
  url: string;
  management: ManagementClient;
  managementUrl: string;
  /** Deletes the vhost and everything in it. */
  cleanup(): Promise<void>;
}

/** The broker found by the global setup (never undefined inside a test). */
export function brokerUrl(): string {
  const url = process.env.AMQP_URL?.split(',')[0];
  if (!url) throw new Error('AMQP_URL is not set: the global test setup did not run');
  return url;
}

export function managementUrl(): string {
  return process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * A vhost of its own for one test file, so tests run in parallel and re-run
 * on a dirty broker. Always pair with `cleanup()` in `afterAll`.
 */
export async function createTestVhost(prefix = 'warren-test', base: { amqpUrl?: string; managementUrl?: string } = {}): Promise<TestVhost> {
  const management = new ManagementClient(base.managementUrl ?? managementUrl());
  const vhost = uniqueName(prefix);
  await management.put(`/vhosts/${encodeVhost(vhost)}`, {});
  const user = new URL(base.managementUrl ?? managementUrl()).username || 'guest';
  await management.put(`/permissions/${encodeVhost(vhost)}/${encodeURIComponent(user)}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  return {
    vhost,
    url: withVhost(base.amqpUrl ?? brokerUrl(), vhost),
    management,
    managementUrl: base.managementUrl ?? managementUrl(),
    cleanup: () => management.delete(`/vhosts/${encodeVhost(vhost)}`),
  };
}
