import { z } from 'zod';
import { DEFAULT_AMQP_URL, DEFAULT_MANAGEMENT_URL, parseAmqpUrls, parseManagementUrls } from './broker/urls.ts';

/**
 * Configuration from the environment, validated once. Defaults work on a
 * developer machine with a local broker. Every variable is in the README.
 */
const Env = z.object({
  AMQP_URL: z.string().default(DEFAULT_AMQP_URL),
  // One URL, or one per node of a cluster, comma separated.
  RABBITMQ_MANAGEMENT_URL: z
    .string()
    .default(DEFAULT_MANAGEMENT_URL)
    .refine((value) => parseManagementUrls(value).every((url) => URL.canParse(url)), 'not a URL or a comma-separated list of URLs'),
  REDIS_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  // Table prefix (or `schema.`) of the stream consumer groups' tables, as the members' `tablePrefix`.
  WARREN_STREAM_TABLE_PREFIX: z.string().min(1).optional(),
  WARREN_API_TOKENS: z.string().optional(),
  WARREN_BODY_LIMIT: z.string().default('1mb'),
  WARREN_INSECURE: z.enum(['', '0', '1', 'true', 'false']).default(''),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface WarrenConfig {
  amqpUrls: string[];
  /** `RABBITMQ_MANAGEMENT_URL` as given: one URL or a comma-separated list (ManagementClient takes either). */
  managementUrl: string;
  /** The same, one URL per node. */
  managementUrls: string[];
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  /** `WARREN_STREAM_TABLE_PREFIX`: where `/v1/streams`, the stream metrics, `stream` and `doctor` find the groups' tables. */
  streamTablePrefix: string | undefined;
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
    managementUrls: parseManagementUrls(e.RABBITMQ_MANAGEMENT_URL),
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    streamTablePrefix: e.WARREN_STREAM_TABLE_PREFIX,
    apiTokens: e.WARREN_API_TOKENS,
    bodyLimit: e.WARREN_BODY_LIMIT,
    insecure: e.WARREN_INSECURE === '1' || e.WARREN_INSECURE === 'true',
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}
