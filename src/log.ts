import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs (pino) for machines; pretty, coloured lines when the
 * output is a terminal or `WARREN_LOG_PRETTY=1`. `LOG_LEVEL` sets the level.
 * Secrets are redacted by path as a last line of defence; URLs are redacted
 * where they are formatted (see broker/urls.ts).
 */
export function createLogger(name: string, options: { level?: string; pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? (process.env.WARREN_LOG_PRETTY === '1' || (process.env.WARREN_LOG_PRETTY !== '0' && process.stdout.isTTY === true));
  return pino({
    name,
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: ['password', '*.password', 'authorization', '*.authorization', 'req.headers.authorization'], censor: '***' },
    ...(pretty && { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }),
  });
}
