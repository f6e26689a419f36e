/**
 * Every call the console makes: the same `/v1/…` routes and bearer token as
 * any script. The token lives in sessionStorage (this tab, until it closes);
 * a 401 forgets it and brings the login form back.
 */
const KEY = 'warren.console.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown (and shown as the login form) when the token is missing or refused. */
export class LoginRequired extends Error {}

let onLoginRequired: (reason?: string) => void = () => undefined;

export function whenLoginRequired(handler: (reason?: string) => void): void {
  onLoginRequired = handler;
}

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(value: string): void {
  sessionStorage.setItem(KEY, value);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}

export async function api<T>(path: string, init: { method?: 'GET' | 'POST'; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const current = token();
  if (current === null) {
    onLoginRequired();
    throw new LoginRequired();
  }
  const headers: Record<string, string> = { authorization: `Bearer ${current}`, accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    ...(init.signal !== undefined && { signal: init.signal }),
    cache: 'no-store',
  });
  if (response.status === 401 || response.status === 403) {
    forgetToken();
    onLoginRequired(response.status === 401 ? 'That token was refused.' : 'That token may not use the admin routes: the console needs an admin token.');
    throw new LoginRequired();
  }
  const text = await response.text();
  const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(response.status, error?.code ?? 'HTTP_ERROR', error?.message ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}

export const enc = encodeURIComponent;
