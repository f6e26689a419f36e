import { WarrenError } from '../errors.ts';

/**
 * The producer refuses to start without API tokens: every route, the admin
 * ones (DLQ replay and purge) included, would be open to whoever reaches it.
 * `insecure: true` (`--insecure`, `WARREN_INSECURE=1`) is the explicit opt-out.
 */
export class MissingApiTokensError extends WarrenError {
  constructor() {
    super(
      'NO_API_TOKENS',
      'no API tokens: set WARREN_API_TOKENS="<token>:admin" (comma-separated token:scope pairs, scope enqueue or admin), ' +
        'or pass --insecure (WARREN_INSECURE=1) to run with every route open',
    );
  }
}

/** The server could not listen (port in use, address not on this machine, no permission). */
export class ListenError extends WarrenError {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('LISTEN_FAILED', `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${reason}`, options);
  }
}

/** `EADDRINUSE` → "address already in use", the one line a person needs. */
export function listenFailure(host: string, port: number, error: unknown): ListenError {
  const code = (error as { code?: unknown } | undefined)?.code;
  const reason =
    code === 'EADDRINUSE'
      ? 'the port is already in use (choose another with --port or PORT)'
      : code === 'EADDRNOTAVAIL'
        ? 'that address is not on this machine (check --host or HOST)'
        : code === 'EACCES'
          ? 'permission denied (ports below 1024 need privileges)'
          : error instanceof Error
            ? error.message
            : String(error);
  return new ListenError(host, port, reason, { cause: error });
}
