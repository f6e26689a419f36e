import type { Logger } from '../log.ts';
import type { HistorySetting } from '../history/index.ts';
import type { ConfirmPublisherOptions } from '../broker/confirm-publisher.ts';

/** What a producer needs besides its topology. Every field has a default. */
export interface ProducerOptions {
  /** Broker nodes (a cluster is tried in turn). @defaultValue `AMQP_URL` */
  amqpUrls?: string[];
  /** @defaultValue `RABBITMQ_MANAGEMENT_URL` */
  managementUrl?: string;
  /** `token:scope` pairs, comma separated. Without any, `startProducer` throws `MissingApiTokensError` unless `insecure`. @defaultValue `WARREN_API_TOKENS` */
  apiTokens?: string | undefined;
  /**
   * Run without tokens, every route (admin included) open to whoever reaches
   * the server. Shown in `/readyz` (`"insecure": true`) and logged at warn;
   * on loopback, only requests addressed to a loopback name are served.
   * Has no effect when tokens are given. @defaultValue `WARREN_INSECURE` (off)
   */
  insecure?: boolean;
  /** Largest request body, in body-parser notation. @defaultValue `WARREN_BODY_LIMIT` ('1mb') */
  bodyLimit?: string;
  /** Most items in one batch request. @defaultValue 1000 */
  maxBatchItems?: number;
  /** Seconds put in `Retry-After` on a 503. @defaultValue 1 */
  retryAfterSeconds?: number;
  /** Confirm channels, in-flight bound, confirm timeout. */
  publisher?: ConfirmPublisherOptions;
  /** Address to listen on. @defaultValue `HOST` (127.0.0.1) */
  host?: string;
  /** 0 picks a free port. @defaultValue `PORT` (8080) */
  port?: number;
  /** @defaultValue a `createLogger('warren-producer')` at `LOG_LEVEL` */
  logger?: Logger;
  /**
   * Job history: accepted jobs recorded, `GET /v1/jobs/{jobType}/{id}` and
   * the search answer, DLQ replays and purges recorded. Options (or an open
   * handle) turn it on, `false` off. @defaultValue on when `WARREN_HISTORY_URL` is set
   */
  history?: HistorySetting;
  /** PostgreSQL of the stream consumer groups (for `/v1/streams` and the stream lag metrics). @defaultValue `DATABASE_URL` */
  databaseUrl?: string | undefined;
  /**
   * Table-name prefix of the stream consumer groups' tables in `DATABASE_URL`
   * (as the members' `tablePrefix`), read by `/v1/streams` and the stream lag
   * metrics. @defaultValue 'warren_'
   */
  streamTablePrefix?: string;
}

export const PRODUCER_DEFAULTS = {
  maxBatchItems: 1000,
  retryAfterSeconds: 1,
  bodyLimit: '1mb',
} as const;
