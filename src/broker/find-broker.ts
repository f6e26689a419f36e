import { connect } from 'amqplib';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findComposeFile, isDockerEngineReachable, startComposeService } from '../services/docker-compose.ts';
import { BrokerUnavailableError } from '../errors.ts';
import { ManagementClient } from './management.ts';
import { CONSISTENT_HASH_PLUGIN, MANAGEMENT_PLUGIN } from '../topology/plugins.ts';
import { canStartPrivateNode, startPrivateNode, type PrivateNode } from './private-node.ts';
import { DEFAULT_AMQP_URL, DEFAULT_MANAGEMENT_URL, parseAmqpUrls, redactText, redactUrl } from './urls.ts';

/**
 * Getting a broker, the same way everywhere (demo, tests, benchmarks):
 * the one at `AMQP_URL` (or the default local address) when it answers;
 * else, when the caller allows a fallback, the `rabbitmq` service of
 * docker-compose.yml when a Docker engine answers, else a private node when
 * `rabbitmq-server` is installed; else an error naming the three ways.
 */

export type BrokerSource = 'env' | 'local' | 'docker' | 'private-node';

export interface FoundBroker {
  /** The node that answered (the first that did, when `AMQP_URL` names several). */
  amqpUrl: string;
  /** Every node: `AMQP_URL`'s list for a broker we found, else the one we started. */
  amqpUrls: string[];
  managementUrl: string;
  source: BrokerSource;
  /** Stops what we started (docker service, private node); a no-op for a broker we found. Safe to call twice. */
  stop(): Promise<void>;
}

export interface FindBrokerOptions {
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * May a broker be started when none answers (docker compose, else a private
   * node)? `WARREN_BROKER_FALLBACK=1|0` overrides the caller. @defaultValue false
   */
  fallback?: boolean;
  /** @defaultValue the repository's docker-compose.yml */
  composeFile?: string;
  /** Progress lines ("starting a private RabbitMQ node…"). @defaultValue silent */
  log?: (line: string) => void;
  /**
   * The plugins the broker must have (`pluginsNeededBy(plan)`): the management
   * API always; the consistent-hash exchange only for a topology that
   * declares one. @defaultValue the management plugin
   */
  plugins?: readonly string[];
  /** Where to look when `AMQP_URL` is unset. @defaultValue 127.0.0.1:5672, management on :15672 */
  local?: { amqpUrl: string; managementUrl: string };
}

const PROBE_TIMEOUT_MS = 5_000;

export const HOW_TO_GET_A_BROKER = [
  'No RabbitMQ broker. Warren needs RabbitMQ 3.10+ with the plugin rabbitmq_management (and rabbitmq_consistent_hash_exchange',
  '  only if your topology declares an x-consistent-hash exchange). Either:',
  '  1. point AMQP_URL (and RABBITMQ_MANAGEMENT_URL) at a running broker, e.g. `rabbitmq-server -detached` and',
  '     `rabbitmq-plugins enable rabbitmq_management`;',
  '  2. start a Docker engine: `docker compose up -d rabbitmq` (this repository\'s docker-compose.yml);',
  '  3. install RabbitMQ (`rabbitmq-server` on the PATH) and allow the fallback (WARREN_BROKER_FALLBACK=1),',
  '     so warren starts a private node of its own and stops it on exit.',
].join('\n');

export async function findBroker(options: FindBrokerOptions = {}): Promise<FoundBroker> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const fromEnv = env.AMQP_URL !== undefined && env.AMQP_URL.trim() !== '';
  const amqpUrls = fromEnv || options.local === undefined ? parseAmqpUrls(env.AMQP_URL) : [options.local.amqpUrl];
  const managementUrl = fromEnv || options.local === undefined || env.RABBITMQ_MANAGEMENT_URL ? managementUrlFor(env) : options.local.managementUrl;
  // A cluster is usable while any one of its nodes answers.
  let probe: BrokerProbe = { status: 'absent', reason: 'no AMQP_URL' };
  for (const amqpUrl of amqpUrls) {
    probe = await probeBroker(amqpUrl, managementUrl, options.plugins);
    if (probe.status === 'ok') return { amqpUrl, amqpUrls, managementUrl, source: fromEnv ? 'env' : 'local', stop: async () => {} };
    if (probe.status === 'incomplete') break;
  }
  if (probe.status === 'incomplete') {
    // A stock broker at the default address (Debian's runs without either
    // plugin): a first run starts a private node that has them, saying why,
    // as it does when nothing answers. A broker the user named in AMQP_URL
    // is theirs to fix: the reason says how.
    if (fromEnv || !fallbackAllowed(env, options.fallback) || !(await canStartPrivateNode())) throw new BrokerUnavailableError(probe.reason);
    log(`${probe.reason}; starting a private RabbitMQ node that has them instead (about 10 s)`);
    return startPrivateFallback();
  }
  if (!fallbackAllowed(env, options.fallback)) {
    throw new BrokerUnavailableError(`${probe.reason}\n${HOW_TO_GET_A_BROKER}`);
  }
  log(`${probe.reason}; starting one`);
  return startFallbackBroker(options.composeFile ?? findComposeFile(), log, probe.reason);
}

/**
 * `RABBITMQ_MANAGEMENT_URL` (one URL or a comma-separated list); else, for
 * each node of `AMQP_URL`, its host and credentials on port 15672 (comma
 * separated when several); else the default.
 */
export function managementUrlFor(env: NodeJS.ProcessEnv): string {
  if (env.RABBITMQ_MANAGEMENT_URL) return env.RABBITMQ_MANAGEMENT_URL;
  if (!env.AMQP_URL) return DEFAULT_MANAGEMENT_URL;
  const derived = parseAmqpUrls(env.AMQP_URL).map(managementUrlOfNode);
  return derived.every((url) => url !== undefined) ? [...new Set(derived)].join(',') : DEFAULT_MANAGEMENT_URL;
}

function managementUrlOfNode(amqpUrl: string): string | undefined {
  try {
    const amqp = new URL(amqpUrl);
    const management = new URL(`http://${amqp.hostname.includes(':') ? `[${amqp.hostname}]` : amqp.hostname}:15672`);
    management.username = amqp.username || 'guest';
    management.password = amqp.password || 'guest';
    return management.toString().replace(/\/$/, '');
  } catch {
    return undefined;
  }
}

export function fallbackAllowed(env: NodeJS.ProcessEnv, callerDefault = false): boolean {
  const value = env.WARREN_BROKER_FALLBACK?.trim().toLowerCase();
  if (value === '1' || value === 'true' || value === 'yes') return true;
  if (value === '0' || value === 'false' || value === 'no') return false;
  return callerDefault;
}

export type BrokerProbe =
  | { status: 'ok' }
  /** Nothing answers: a fallback may start a broker. */
  | { status: 'absent'; reason: string }
  /** Something answers but lacks the management API or a plugin: the user must fix it. */
  | { status: 'incomplete'; reason: string; missingPlugins: string[] };

/** Checks AMQP, the management API and the `required` plugins, in that order. */
export async function probeBroker(amqpUrl: string, managementUrl: string, required: readonly string[] = [MANAGEMENT_PLUGIN]): Promise<BrokerProbe> {
  const amqp = await tryAmqpConnect(amqpUrl);
  if (!amqp.ok) return { status: 'absent', reason: `no RabbitMQ answers at ${redactUrl(amqpUrl)} (${amqp.reason})` };
  const management = new ManagementClient(managementUrl);
  // /overview answers at once; /nodes lists plugins only after its first
  // stats round (about 5 s after a node starts). An enabled plugin shows
  // through what it adds: the management API itself, the exchange type.
  const overview = await management.get<{ exchange_types?: Array<{ name: string }> }>('/overview').catch(() => undefined);
  // Asked only when needed; without the management API, over AMQP.
  const hasHashExchange = !required.includes(CONSISTENT_HASH_PLUGIN)
    ? undefined
    : overview
      ? (overview.exchange_types ?? []).some((type) => type.name === 'x-consistent-hash')
      : await supportsExchangeType(amqpUrl, 'x-consistent-hash');
  const enabled = [...(overview ? [MANAGEMENT_PLUGIN] : []), ...(hasHashExchange !== false ? [CONSISTENT_HASH_PLUGIN] : [])];
  const missing = missingPlugins(enabled, required);
  if (missing.length > 0) {
    const elsewhere = overview ? '' : ` (or, if its management API is not at ${management.displayUrl}, set RABBITMQ_MANAGEMENT_URL)`;
    return {
      status: 'incomplete',
      missingPlugins: missing,
      reason: `RabbitMQ at ${redactUrl(amqpUrl)} lacks the plugin(s) ${missing.join(', ')}: run \`rabbitmq-plugins enable ${missing.join(' ')}\`${elsewhere}`,
    };
  }
  return { status: 'ok' };
}

/** Opens and closes one AMQP connection; the reason is redacted. */
export async function tryAmqpConnect(amqpUrl: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const connection = await connect(amqpUrl, { timeout: PROBE_TIMEOUT_MS });
    await connection.close();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: redactText(error instanceof Error ? error.message : String(error)) };
  }
}

/**
 * Whether the broker knows an exchange type, asked over AMQP: a throwaway
 * auto-delete exchange of that type is declared and deleted. `undefined`
 * when the answer is something else (no permission, connection lost).
 */
export async function supportsExchangeType(amqpUrl: string, type: string): Promise<boolean | undefined> {
  let connection: Awaited<ReturnType<typeof connect>>;
  try {
    connection = await connect(amqpUrl, { timeout: PROBE_TIMEOUT_MS });
  } catch {
    return undefined;
  }
  // An unknown type closes the connection (503 COMMAND_INVALID, "unknown
  // exchange type"): expected here; the declare itself only sees "channel ended".
  let closedWith = '';
  connection.on('error', (error: Error) => {
    closedWith = error.message;
  });
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    const name = `warren.probe.${randomBytes(6).toString('hex')}`;
    await channel.assertExchange(name, type, { durable: false, autoDelete: true });
    await channel.deleteExchange(name);
    return true;
  } catch (error) {
    const message = `${error instanceof Error ? error.message : String(error)} ${closedWith}`;
    return /unknown exchange type|invalid exchange type/i.test(message) ? false : undefined;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Pure: the `required` plugins absent from an enabled-plugin list, in a fixed order. */
export function missingPlugins(enabled: readonly string[], required: readonly string[] = [MANAGEMENT_PLUGIN]): string[] {
  return [CONSISTENT_HASH_PLUGIN, MANAGEMENT_PLUGIN].filter((plugin) => required.includes(plugin) && !enabled.includes(plugin));
}

async function startFallbackBroker(
  composeFile: string | undefined,
  log: (line: string) => void,
  why: string,
): Promise<FoundBroker> {
  if (composeFile && (await isDockerEngineReachable())) {
    log('a Docker engine answers: starting the rabbitmq service of docker-compose.yml');
    const service = await startComposeService(composeFile, 'rabbitmq');
    return { amqpUrl: DEFAULT_AMQP_URL, amqpUrls: [DEFAULT_AMQP_URL], managementUrl: DEFAULT_MANAGEMENT_URL, source: 'docker', stop: () => service.stop() };
  }
  if (await canStartPrivateNode()) {
    log('starting a private RabbitMQ node (about 10 s)');
    return startPrivateFallback();
  }
  throw new BrokerUnavailableError(`${why}\n${HOW_TO_GET_A_BROKER}`);
}

/** A private node with the plugins warren needs, on ports of its own, stopped with the caller (or on exit). */
async function startPrivateFallback(): Promise<FoundBroker> {
  const node = await startPrivateNode();
  return { amqpUrl: node.amqpUrl, amqpUrls: [node.amqpUrl], managementUrl: node.managementUrl, source: 'private-node', stop: stopOnExit(node) };
}

/**
 * A node we started must not outlive us, even when the caller forgets
 * `stop()` or the process ends on an error: on exit, stop it synchronously.
 */
function stopOnExit(node: PrivateNode): () => Promise<void> {
  let stopped = false;
  const onExit = () => {
    if (stopped) return;
    try {
      execFileSync('rabbitmqctl', ['-n', node.nodeName, 'stop'], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // best effort: the process is exiting anyway
    }
  };
  process.once('exit', onExit);
  return async () => {
    stopped = true;
    process.removeListener('exit', onExit);
    await node.stop();
  };
}
