import { BrokerUnavailableError, WarrenError } from '../errors.ts';
import { DEFAULT_MANAGEMENT_URL, parseManagementUrls, redactUrl } from './urls.ts';

interface Endpoint {
  base: string;
  authorization: string;
  displayUrl: string;
}

/**
 * A small client for the RabbitMQ management HTTP API: what the broker has
 * (plan, doctor, queue lag) and vhost administration (tests). Credentials
 * come from the URL and never appear in errors.
 *
 * On a cluster it takes every node's URL (an array, or one comma-separated
 * string as in `RABBITMQ_MANAGEMENT_URL`) and tries them in turn: any node
 * answers for the whole cluster, so losing one node loses nothing. It sticks
 * to the last node that answered.
 */
export class ManagementClient {
  private readonly endpoints: Endpoint[];
  private current = 0;
  /** The URLs, passwords redacted (comma-separated when several). */
  readonly displayUrl: string;

  constructor(urls: string | readonly string[] = process.env.RABBITMQ_MANAGEMENT_URL ?? DEFAULT_MANAGEMENT_URL) {
    const list = typeof urls === 'string' ? parseManagementUrls(urls) : urls.length > 0 ? [...urls] : [DEFAULT_MANAGEMENT_URL];
    this.endpoints = list.map(endpointOf);
    this.displayUrl = this.endpoints.map((e) => e.displayUrl).join(',');
  }

  /** GET a path under /api; `undefined` when the object does not exist (404). */
  async get<T>(path: string): Promise<T | undefined> {
    const response = await this.request('GET', path);
    if (response.status === 404) return undefined;
    await this.check(response, 'GET', path);
    return (await response.json()) as T;
  }

  async put(path: string, body: unknown): Promise<void> {
    const response = await this.request('PUT', path, body);
    await this.check(response, 'PUT', path);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const response = await this.request('POST', path, body);
    await this.check(response, 'POST', path);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** DELETE; a missing object is not an error. */
  async delete(path: string): Promise<void> {
    const response = await this.request('DELETE', path);
    if (response.status !== 404) await this.check(response, 'DELETE', path);
  }

  async isReachable(): Promise<boolean> {
    try {
      return (await this.request('GET', '/overview')).ok;
    } catch {
      return false;
    }
  }

  /**
   * Sends to the node that answered last, then to the others in turn. A node
   * that does not answer, or answers 5xx (a node shutting down, a partition),
   * passes the request on — except a POST that may have reached it (`get`
   * and `publish` are not idempotent): that one moves on only when the
   * connection was refused, i.e. nothing was sent.
   */
  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    let failure: unknown;
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      const index = (this.current + tried) % this.endpoints.length;
      const endpoint = this.endpoints[index] as Endpoint;
      const last = tried === this.endpoints.length - 1;
      let response: Response;
      try {
        response = await fetch(`${endpoint.base}/api${path}`, {
          method,
          headers: {
            authorization: endpoint.authorization,
            ...(body !== undefined && { 'content-type': 'application/json' }),
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        failure = error;
        if (method === 'POST' && !nothingWasSent(error)) break;
        continue;
      }
      if (response.status >= 500 && !last && method !== 'POST') {
        await response.body?.cancel().catch(() => undefined);
        continue;
      }
      this.current = index;
      return response;
    }
    const where = this.endpoints.length === 1 ? `at ${this.displayUrl}` : `at none of ${this.displayUrl}`;
    throw new BrokerUnavailableError(`management API ${where} is unreachable`, { cause: failure });
  }

  private async check(response: Response, method: string, path: string): Promise<void> {
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    throw new WarrenError(
      'MANAGEMENT_API',
      `management API ${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`,
    );
  }
}

function endpointOf(url: string): Endpoint {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username || 'guest');
  const password = decodeURIComponent(parsed.password || 'guest');
  parsed.username = '';
  parsed.password = '';
  return {
    base: parsed.toString().replace(/\/$/, ''),
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    displayUrl: redactUrl(url),
  };
}

/** True when fetch failed before the request could reach the server (refused, no route, unknown host). */
function nothingWasSent(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND';
}

/** `/` → `%2F`: vhost names go in API paths percent-encoded. */
export function encodeVhost(vhost: string): string {
  return encodeURIComponent(vhost);
}
