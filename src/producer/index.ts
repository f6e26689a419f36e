import type { Express } from 'express';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BrokerConnection } from '../broker/connection.ts';
import { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import { ManagementClient } from '../broker/management.ts';
import { targetVhost, urlsForVhost } from '../broker/vhost.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { loadTopology } from '../topology/load.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { createProducerHandler } from './app.ts';
import { parseApiTokens } from './auth.ts';
import { listenFailure, MissingApiTokensError } from './errors.ts';
import { buildJobTypes } from '../client/job-types.ts';
import { createMetrics } from './metrics.ts';
import { resolveHistory } from '../history/index.ts';
import { queueLag } from './queue-lag.ts';
import { streamsOverview } from '../streams/group-admin.ts';
import { PRODUCER_DEFAULTS, type ProducerOptions } from './options.ts';

export type { ProducerOptions } from './options.ts';
export { createApp, listRoutes } from './app.ts';
export { ListenError, MissingApiTokensError } from './errors.ts';

export type ProducerSource = { plan: TopologyPlan; topologyFile?: undefined } | { topologyFile: string; plan?: undefined };

export interface RunningProducer {
  /** `http://host:port` the server listens on. */
  url: string;
  /** The express app (to mount more routes before traffic, or to list its routes). */
  app: Express;
  /** True when it runs without tokens (`insecure`): every route is open. */
  insecure: boolean;
  /** Stops taking requests, lets in-flight ones finish, closes the publisher and the connection. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP producer: one long-lived publishing connection (its own,
 * separate from any consumer), a pool of confirm channels, and the express
 * app. It listens at once, without waiting for the broker: until connected
 * it answers 503 and `/readyz` says not ready.
 *
 * Closed by default: it binds 127.0.0.1 unless told otherwise, and throws
 * `MissingApiTokensError` without tokens unless `insecure` is set. A port it
 * cannot listen on is a `ListenError`, with nothing left running.
 */
export async function startProducer(input: ProducerSource & ProducerOptions): Promise<RunningProducer> {
  const config = loadConfig();
  const tokens = parseApiTokens('apiTokens' in input ? input.apiTokens : config.apiTokens);
  const insecure = tokens.length === 0;
  if (insecure && !(input.insecure ?? config.insecure)) throw new MissingApiTokensError();
  const plan = input.plan ?? (await loadTopology(input.topologyFile)).plan;
  const logger = input.logger ?? createLogger('warren-producer');
  const amqpUrls = urlsForVhost(plan, input.amqpUrls ?? config.amqpUrls);
  const managementUrl = input.managementUrl ?? config.managementUrl;
  const host = input.host ?? config.host;
  const port = input.port ?? config.port;
  if (insecure) logger.warn('INSECURE: no API tokens; every route, the admin ones included, is open to whoever reaches the server');
  const connection = new BrokerConnection({ urls: amqpUrls, name: 'warren-producer' });
  connection.on('state', (state, reason) => logger.info({ broker: state, reason }, 'broker connection state'));
  connection.on('connectFailed', (reason) => logger.warn({ reason }, 'broker connection failed'));
  const publisher = new ConfirmPublisher(connection, input.publisher);
  const management = new ManagementClient(managementUrl);
  const vhost = targetVhost(plan, amqpUrls);
  const streamTablePrefix = input.streamTablePrefix ?? config.streamTablePrefix;
  const databaseUrl = input.databaseUrl ?? config.databaseUrl;
  const streamContext = { plan, amqpUrls, databaseUrl, ...(streamTablePrefix !== undefined && { tablePrefix: streamTablePrefix }) };
  const streamLag = (plan.streams ?? []).length > 0 ? { read: () => streamsOverview(streamContext) } : undefined;
  const metrics = createMetrics(connection, publisher, { plan, read: () => queueLag(management, plan, vhost) }, streamLag);
  const history = resolveHistory(input.history, { logger, registry: metrics.registry });
  const { app, listener } = createProducerHandler({
    plan,
    jobTypes: buildJobTypes(plan.jobs),
    connection,
    publisher,
    management,
    metrics,
    logger,
    tokens,
    vhost,
    amqpUrls,
    managementUrl,
    bodyLimit: input.bodyLimit ?? config.bodyLimit ?? PRODUCER_DEFAULTS.bodyLimit,
    maxBatchItems: input.maxBatchItems ?? PRODUCER_DEFAULTS.maxBatchItems,
    retryAfterSeconds: input.retryAfterSeconds ?? PRODUCER_DEFAULTS.retryAfterSeconds,
    insecure,
    host,
    databaseUrl,
    ...(streamTablePrefix !== undefined && { streamTablePrefix }),
    history: history?.handle,
  });
  let server: Server;
  try {
    server = await listen(listener, host, port);
  } catch (error) {
    // Nothing may keep the process alive after a failed start (the broker connection would, forever).
    await publisher.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    if (history?.owned) await history.handle.close(0).catch(() => undefined);
    throw listenFailure(host, port, error);
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, insecure, jobTypes: plan.jobs.map((job) => job.type) }, 'producer listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    app,
    insecure,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await stopped;
        await publisher.close();
        await connection.close();
        if (history?.owned) await history.handle.close();
      })();
      return closing;
    },
  };
}

/** Alias kept for callers that build on the producer (`warren up`). */
export const createProducer = startProducer;

function listen(listener: RequestListener, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(listener);
    // Keep-alive sockets must not hold close() open.
    server.keepAliveTimeout = 5_000;
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
