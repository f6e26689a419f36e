import { BrokerUnavailableError, WarrenError } from '../errors.ts';
import { DEFAULT_MANAGEMENT_URL, redactUrl } from './urls.ts';

/**
 * A small client for the RabbitMQ management HTTP API: what the broker has
 * (plan, doctor, queue lag) and vhost administration (tests). Credentials
 * come from the URL and never appear in errors.
 */
export class ManagementClient {
  private readonly base: string;
  private readonly authorization: string;
  readonly displayUrl: string;

  constructor(url: string = process.env.RABBITMQ_MANAGEMENT_URL ?? DEFAULT_MANAGEMENT_URL) {
    const parsed = new URL(url);
    const user = decodeURIComponent(parsed.username || 'guest');
    const password = decodeURIComponent(parsed.password || 'guest');
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
    this.base = parsed.toString().replace(/\/$/, '');
    this.displayUrl = redactUrl(url);
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

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${this.base}/api${path}`, {
        method,
        headers: {
          authorization: this.authorization,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new BrokerUnavailableError(`management API at ${this.displayUrl} is unreachable`, { cause: error });
    }
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

/** `/` → `%2F`: vhost names go in API paths percent-encoded. */
export function encodeVhost(vhost: string): string {
  return encodeURIComponent(vhost);
}
