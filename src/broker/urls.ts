/**
 * Broker addresses. `AMQP_URL` may list several nodes of a cluster, comma
 * separated. Anything that prints an address goes through `redactUrl` so a
 * password never reaches a log line, an error or a response.
 */

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_MANAGEMENT_URL = 'http://guest:guest@127.0.0.1:15672';

export function parseAmqpUrls(value: string | undefined): string[] {
  return splitList(value, DEFAULT_AMQP_URL);
}

/** `RABBITMQ_MANAGEMENT_URL`: one node's management URL, or every node's, comma separated (tried in turn). */
export function parseManagementUrls(value: string | undefined): string[] {
  return splitList(value, DEFAULT_MANAGEMENT_URL);
}

function splitList(value: string | undefined, fallback: string): string[] {
  const urls = (value ?? fallback)
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  return urls.length > 0 ? urls : [fallback];
}

/**
 * The same list starting at `start` (modulo its length) and wrapping round:
 * the order in which a connection tries a cluster's nodes. Every connection
 * starting at the first URL would put every client of the cluster on one
 * node; starting each one elsewhere spreads them.
 */
export function rotateUrls<T>(urls: readonly T[], start: number): T[] {
  if (urls.length === 0) return [];
  const offset = ((start % urls.length) + urls.length) % urls.length;
  return [...urls.slice(offset), ...urls.slice(0, offset)];
}

/** `amqp://user:secret@host/vh` → `amqp://user:***@host/vh`; non-URLs are returned masked. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}

/** Removes credentials of any URL embedded in a message (e.g. an error from a client library). */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@\s]*@/gi, '$1:***@');
}

/** The vhost an AMQP URL points at (`/` when the path is empty). */
export function vhostOf(url: string): string {
  const path = new URL(url).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

/** The same URL pointing at another vhost. */
export function withVhost(url: string, vhost: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(vhost)}`;
  return parsed.toString();
}
