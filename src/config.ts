import { z } from 'zod';
import { DEFAULT_AMQP_URL, DEFAULT_MANAGEMENT_URL, parseAmqpUrls } from './broker/urls.ts';

/**
 * Configuration from the environment, validated once. Defaults work on a
 * developer machine with a local broker. Every variable is in the README.
 */
const Env = z.object({
  AMQP_URL: z.string().default(DEFAULT_AMQP_URL),
  RABBITMQ_MANAGEMENT_URL: z.string().url().default(DEFAULT_MANAGEMENT_URL),
  REDIS_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  WARREN_API_TOKENS: z.string().optional(),
  WARREN_BODY_LIMIT: z.string().default('1mb'),
  WARREN_INSECURE: z.enum(['', '0', '1', 'true', 'false']).default(''),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface WarrenConfig {
  amqpUrls: string[];
  managementUrl: string;
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  apiTokens: string | undefined;
  bodyLimit: string;
  /** `WARREN_INSECURE=1`: the producer may run without tokens (every route open). */
  insecure: boolean;
  host: string;
  port: number;
  logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): WarrenConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    amqpUrls: parseAmqpUrls(e.AMQP_URL),
    managementUrl: e.RABBITMQ_MANAGEMENT_URL,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    apiTokens: e.WARREN_API_TOKENS,
    bodyLimit: e.WARREN_BODY_LIMIT,
    insecure: e.WARREN_INSECURE === '1' || e.WARREN_INSECURE === 'true',
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}
