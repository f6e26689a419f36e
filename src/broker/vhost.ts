import { vhostOf, withVhost } from './urls.ts';

/**
 * The one vhost rule, used by every component (producer, workers, DLQ
 * commands, plan/apply, doctor, up): the topology file's `vhost` when it
 * names one, else the vhost of the (first) AMQP URL.
 */
export function targetVhost(plan: { vhost?: string | undefined } | undefined, amqpUrls: readonly string[]): string {
  return plan?.vhost ?? vhostOf(amqpUrls[0] ?? 'amqp://localhost');
}

/** Every AMQP URL pointed at the target vhost, so any node of a cluster lands in the same one. */
export function urlsForVhost(plan: { vhost?: string | undefined } | undefined, amqpUrls: readonly string[]): string[] {
  const vhost = targetVhost(plan, amqpUrls);
  return amqpUrls.map((url) => withVhost(url, vhost));
}
