import type { StreamOverview } from '../streams/group-admin.ts';

/**
 * What `warren doctor` knows about a broker, gathered once by `inspect.ts`
 * and judged by the pure checks in `checks.ts`. Everything is plain data so
 * a check can be fed a planted problem without a broker.
 */

export interface NodeFacts {
  name: string;
  running: boolean;
  memoryAlarm: boolean;
  diskAlarm: boolean;
  /** Explicitly enabled plugins; `undefined` when the node did not say (not running, stats not collected). */
  enabledPlugins: string[] | undefined;
  /** Plugin name → version, from the node's running applications. */
  pluginVersions: Record<string, string>;
  /**
   * The node's `consumer_timeout` in ms: a number, `null` when disabled,
   * `undefined` when it could not be read (the management API does not show
   * it; doctor asks the node with `rabbitmqctl` when it can).
   */
  consumerTimeoutMs: number | null | undefined;
  /** Nodes this one cannot reach though they are in the cluster (`/api/nodes` `partitions`). */
  partitions: string[];
}

export interface QueueFacts {
  name: string;
  /** `classic`, `quorum` or `stream`. */
  type: string;
  /** Declared `x-…` arguments. */
  arguments: Record<string, unknown>;
  /** The effective policy definition applied to the queue (`delivery-limit`, `dead-letter-exchange`, …). */
  policy: Record<string, unknown>;
  /** Where it is led from: a quorum queue's leader, a classic queue's node; `undefined` while a leader is elected. */
  leader: string | undefined;
  /** A quorum queue's members (nodes holding a replica) and those of them online; `undefined` for other types. */
  members: string[] | undefined;
  online: string[] | undefined;
  /** Exclusive queues belong to one connection: never replicated, gone with it. */
  exclusive: boolean;
}

export interface DriftFacts {
  file: string;
  create: string[];
  conflict: string[];
  unchanged: number;
}

export interface BrokerFacts {
  rabbitmqVersion: string;
  erlangVersion: string;
  clusterName: string;
  /** The vhost whose queues were checked. */
  vhost: string;
  nodes: NodeFacts[];
  queues: QueueFacts[];
  /** The longest `timeoutMs` of the workers that will consume here, and where it came from. */
  workerTimeout: { ms: number; source: string };
  /** `undefined` when no topology file was given. */
  drift: DriftFacts | undefined;
  /** The plugins the topology needs (`pluginsNeededBy`); absent without a topology file. */
  neededPlugins?: string[];
  /** The topology's streams and their consumer groups; absent without a topology file or when it declares no streams. */
  streams?: StreamFacts;
}

export interface StreamFacts {
  /** Each stream of the topology with its partitions' queue names, in partition order. */
  declared: Array<{ stream: string; queues: string[] }>;
  /** Offsets and groups as read (with first offsets and heartbeats); `undefined` when the read failed. */
  overview: StreamOverview[] | undefined;
  /** Why the offsets could not be read. */
  error?: string;
}
