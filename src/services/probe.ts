import { Redis } from 'ioredis';
import pg from 'pg';
import { redactText, redactUrl } from '../broker/urls.ts';

/**
 * Is Redis / PostgreSQL there? Features that can use them (the idempotency
 * stores) ask first, and fall back to the in-memory store — saying so —
 * when they are absent.
 */

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The `postgres` database exists on every PostgreSQL install. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const PROBE_TIMEOUT_MS = 3_000;

export type ServiceProbe =
  | { service: 'redis' | 'postgres'; available: true; url: string; displayUrl: string }
  | { service: 'redis' | 'postgres'; available: false; displayUrl: string; reason: string };

export interface OptionalServices {
  redis: ServiceProbe;
  postgres: ServiceProbe;
}

/** Probes both at once: `REDIS_URL` / `DATABASE_URL`, or their local defaults. */
export async function findOptionalServices(env: NodeJS.ProcessEnv = process.env): Promise<OptionalServices> {
  const [redis, postgres] = await Promise.all([
    probeRedis(env.REDIS_URL || DEFAULT_REDIS_URL),
    probePostgres(env.DATABASE_URL || DEFAULT_DATABASE_URL),
  ]);
  return { redis, postgres };
}

export async function probeRedis(url: string): Promise<ServiceProbe> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // The socket error says why (refused, DNS…); connect() only says "closed".
  let socketError: unknown;
  client.on('error', (error) => {
    socketError ??= error;
  });
  try {
    await client.connect();
    await client.ping();
    return { service: 'redis', available: true, url, displayUrl: redactUrl(url) };
  } catch (error) {
    return absent('redis', url, socketError ?? error);
  } finally {
    client.disconnect();
  }
}

export async function probePostgres(url: string): Promise<ServiceProbe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { service: 'postgres', available: true, url, displayUrl: redactUrl(url) };
  } catch (error) {
    return absent('postgres', url, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function absent(service: 'redis' | 'postgres', url: string, error: unknown): ServiceProbe {
  const message = error instanceof Error ? error.message : String(error);
  return { service, available: false, displayUrl: redactUrl(url), reason: redactText(message) || 'no answer' };
}
