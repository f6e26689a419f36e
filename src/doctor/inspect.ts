import { probeBroker, tryAmqpConnect } from '../broker/find-broker.ts';
import { encodeVhost, ManagementClient } from '../broker/management.ts';
import { redactUrl } from '../broker/urls.ts';
import { BrokerUnavailableError } from '../errors.ts';
import { planTopology } from '../topology/apply.ts';
import { targetVhost } from '../broker/vhost.ts';
import { loadTopology } from '../topology/load.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { pluginsNeededBy } from '../topology/plugins.ts';
import { readConsumerTimeout } from './consumer-timeout.ts';
import type { BrokerFacts, DriftFacts, NodeFacts, QueueFacts, StreamFacts } from './facts.ts';
import { streamsOverview } from '../streams/group-admin.ts';

/**
 * Gathers what doctor judges, in one pass: the management API (overview,
 * nodes, the vhost's queues), one AMQP connection, `consumer_timeout` from
 * the node when `rabbitmqctl` reaches it, and the topology diff of `plan`.
 */

export interface DoctorTarget {
  /** Every node of a cluster: the first that answers is checked (any one node may be down). */
  amqpUrls: string[];
  /** One management URL, or one per node, comma separated: tried in turn. */
  managementUrl: string;
  /** Topology file to diff against the broker; its vhost (if any) is the one checked. */
  topologyFile?: string;
  workerTimeout: { ms: number; source: string };
  /** How long to wait for a freshly started node to report its plugins. @defaultValue 12_000 */
  nodeStatsWaitMs?: number;
  /** Where stream consumer groups keep their offsets; without it the groups are not checked. */
  databaseUrl?: string | undefined;
  /** Table prefix of the stream group tables. @defaultValue 'warren_' */
  streamTablePrefix?: string;
}

interface RawOverview {
  rabbitmq_version?: string;
  erlang_version?: string;
  cluster_name?: string;
}

interface RawNode {
  name: string;
  running?: boolean;
  mem_alarm?: boolean;
  disk_free_alarm?: boolean;
  enabled_plugins?: string[];
  applications?: Array<{ name: string; version: string }>;
  partitions?: string[];
}

interface RawQueue {
  name: string;
  type?: string;
  arguments?: Record<string, unknown>;
  effective_policy_definition?: Record<string, unknown> | unknown[];
  node?: string;
  leader?: string | null;
  members?: string[];
  online?: string[];
  exclusive?: boolean;
}

/** What doctor learnt, and which AMQP node answered. */
export interface Inspection {
  facts: BrokerFacts;
  /** The AMQP URL that answered (password not redacted: redact before printing). */
  amqpUrl: string;
}

export async function inspectBroker(target: DoctorTarget): Promise<BrokerFacts> {
  return (await inspect(target)).facts;
}

export async function inspect(target: DoctorTarget): Promise<Inspection> {
  const management = new ManagementClient(target.managementUrl);
  if (!(await management.isReachable())) {
    // A broker that answers over AMQP without its management API is most
    // likely a stock install: name the plugins it lacks and the command.
    const amqpUrl = await firstAnswering(target.amqpUrls).catch(() => undefined);
    const probe = amqpUrl === undefined ? undefined : await probeBroker(amqpUrl, target.managementUrl);
    if (probe?.status === 'incomplete') throw new BrokerUnavailableError(probe.reason);
    throw new BrokerUnavailableError(`the management API at ${management.displayUrl} does not answer (set RABBITMQ_MANAGEMENT_URL)`);
  }
  const amqpUrl = await firstAnswering(target.amqpUrls);

  const plan = target.topologyFile ? (await loadTopology(target.topologyFile)).plan : undefined;
  const vhost = targetVhost(plan, target.amqpUrls);
  const overview = (await management.get<RawOverview>('/overview')) ?? {};
  const [nodes, queues, drift, streams] = await Promise.all([
    readNodes(management, target.nodeStatsWaitMs ?? 12_000),
    readQueues(management, vhost),
    plan && target.topologyFile ? readDrift(plan, target.topologyFile, target) : Promise.resolve(undefined),
    plan ? readStreams(plan, target) : Promise.resolve(undefined),
  ]);
  const facts: BrokerFacts = {
    rabbitmqVersion: overview.rabbitmq_version ?? 'unknown',
    erlangVersion: overview.erlang_version ?? 'unknown',
    clusterName: overview.cluster_name ?? 'unknown',
    vhost,
    nodes,
    queues,
    workerTimeout: target.workerTimeout,
    drift,
    ...(plan !== undefined && { neededPlugins: pluginsNeededBy(plan) }),
    ...(streams !== undefined && { streams }),
  };
  return { facts, amqpUrl };
}

/** The first AMQP URL that accepts a connection; `BrokerUnavailableError` naming each when none does. */
async function firstAnswering(urls: readonly string[]): Promise<string> {
  const failures: string[] = [];
  for (const url of urls) {
    const amqp = await tryAmqpConnect(url);
    if (amqp.ok) return url;
    failures.push(`${redactUrl(url)} (${amqp.reason})`);
  }
  throw new BrokerUnavailableError(`no RabbitMQ answers at ${failures.join(', ') || 'AMQP_URL'}`);
}

/** A node lists its plugins only after its first stats round (~5 s after start): wait that long at most. */
async function readNodes(management: ManagementClient, waitMs: number): Promise<NodeFacts[]> {
  const deadline = Date.now() + waitMs;
  let raw = (await management.get<RawNode[]>('/nodes')) ?? [];
  // Right after a start the first stats round lists the enabled plugins
  // before they run as applications: wait until each has its version.
  const pending = (node: RawNode) =>
    node.running !== false &&
    (node.enabled_plugins === undefined ||
      node.enabled_plugins.some((plugin) => !node.applications?.some((app) => app.name === plugin)));
  while (raw.some(pending) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    raw = (await management.get<RawNode[]>('/nodes')) ?? [];
  }
  return Promise.all(raw.map(nodeFacts));
}

async function nodeFacts(node: RawNode): Promise<NodeFacts> {
  const running = node.running !== false;
  const enabled = node.enabled_plugins;
  const versions: Record<string, string> = {};
  for (const app of node.applications ?? []) {
    if (enabled?.includes(app.name)) versions[app.name] = app.version;
  }
  return {
    name: node.name,
    running,
    memoryAlarm: node.mem_alarm === true,
    diskAlarm: node.disk_free_alarm === true,
    enabledPlugins: enabled,
    pluginVersions: versions,
    consumerTimeoutMs: running ? await readConsumerTimeout(node.name) : undefined,
    partitions: node.partitions ?? [],
  };
}

async function readQueues(management: ManagementClient, vhost: string): Promise<QueueFacts[]> {
  const columns = 'name,type,arguments,effective_policy_definition,node,leader,members,online,exclusive';
  const raw = await management.get<RawQueue[]>(`/queues/${encodeVhost(vhost)}?columns=${columns}`);
  return (raw ?? []).map((queue) => {
    const type = queue.type ?? 'classic';
    return {
      name: queue.name,
      type,
      arguments: queue.arguments ?? {},
      // The API gives `[]` rather than `{}` when no policy applies.
      policy: Array.isArray(queue.effective_policy_definition) ? {} : (queue.effective_policy_definition ?? {}),
      // A quorum queue shows its leader (null during an election); a classic one its node.
      leader: (type === 'quorum' ? queue.leader : queue.node) ?? undefined,
      members: type === 'quorum' ? (queue.members ?? []) : undefined,
      online: type === 'quorum' ? (queue.online ?? []) : undefined,
      exclusive: queue.exclusive === true,
    };
  });
}

/** The plan's streams: end and first offsets per partition and, with a database, each group's offsets and members. */
async function readStreams(plan: TopologyPlan, target: DoctorTarget): Promise<StreamFacts | undefined> {
  const declared = (plan.streams ?? []).map((stream) => ({ stream: stream.name, queues: stream.queues }));
  if (declared.length === 0) return undefined;
  const context = {
    plan,
    amqpUrls: target.amqpUrls,
    databaseUrl: target.databaseUrl,
    ...(target.streamTablePrefix !== undefined && { tablePrefix: target.streamTablePrefix }),
  };
  try {
    return { declared, overview: await streamsOverview(context, { firstOffsets: true, heartbeats: true }) };
  } catch (error) {
    return { declared, overview: undefined, error: error instanceof Error ? error.message : String(error) };
  }
}

async function readDrift(plan: TopologyPlan, file: string, target: DoctorTarget): Promise<DriftFacts> {
  const report = await planTopology(plan, { amqpUrls: target.amqpUrls, managementUrl: target.managementUrl });
  const named = (action: string) => report.changes.filter((c) => c.action === action).map((c) => `${c.kind} ${c.name}`);
  return {
    file,
    create: named('create'),
    conflict: named('conflict'),
    unchanged: report.changes.filter((c) => c.action === 'unchanged').length,
  };
}
