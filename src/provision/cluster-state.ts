import { z } from 'zod';

/**
 * What `warren dev cluster up` writes into its directory so that `down` (and
 * a later `up`) find the same nodes: names, ports and the cookie home.
 * Pure: parsing and the choices made on it, no I/O.
 */

const Range = z.object({ min: z.number().int().positive(), max: z.number().int().positive() });

const NodeState = z.object({
  /** Short name: c1, c2, c3. */
  name: z.string().min(1),
  nodeName: z.string().regex(/^[^@\s]+@[^@\s]+$/),
  amqpPort: z.number().int().positive(),
  managementPort: z.number().int().positive(),
  distPort: z.number().int().positive(),
});

export const ClusterState = z.object({
  version: z.literal(1),
  id: z.string().min(1),
  nodes: z.array(NodeState).min(1),
  plugins: z.array(z.string()),
  ctlDistPorts: Range,
  config: z.array(z.string()),
});
export type ClusterState = z.infer<typeof ClusterState>;
export type NodeState = z.infer<typeof NodeState>;

export const STATE_FILE = 'cluster.json';

export function parseClusterState(text: string): ClusterState {
  return ClusterState.parse(JSON.parse(text));
}

/** Short node names c1..cN and their Erlang node names, unique to this cluster so two clusters never share a name. */
export function nodeNames(id: string, size: number): Array<{ name: string; nodeName: string }> {
  return Array.from({ length: size }, (_, i) => ({ name: `c${i + 1}`, nodeName: `warren-${id}-c${i + 1}@localhost` }));
}

/**
 * The `export` lines `warren dev cluster up` prints: every node in
 * `AMQP_URL` and `RABBITMQ_MANAGEMENT_URL` (the default guest account; the
 * nodes listen on 127.0.0.1 only).
 */
export function exportLines(state: ClusterState): string[] {
  const amqp = state.nodes.map((n) => `amqp://guest:guest@127.0.0.1:${n.amqpPort}`).join(',');
  const management = state.nodes.map((n) => `http://guest:guest@127.0.0.1:${n.managementPort}`).join(',');
  return [`export AMQP_URL='${amqp}'`, `export RABBITMQ_MANAGEMENT_URL='${management}'`];
}

/** A queue as `/api/queues` lists it: `node` is where a classic queue lives, or a quorum queue's leader. */
export interface QueuePlacement {
  name: string;
  node?: string;
  /** `null` while a quorum queue elects a leader. */
  leader?: string | null;
}

/**
 * Pure: how many queues each node leads (a classic queue's home node counts
 * as its leader), every given node listed, busiest first; ties keep the
 * order of `nodes`.
 */
export function leadersPerNode(nodes: readonly string[], queues: readonly QueuePlacement[]): Array<{ node: string; queues: number }> {
  const counts = new Map(nodes.map((node) => [node, 0]));
  for (const queue of queues) {
    const leader = queue.leader ?? queue.node;
    if (leader !== undefined && counts.has(leader)) counts.set(leader, (counts.get(leader) ?? 0) + 1);
  }
  return [...counts].map(([node, queues]) => ({ node, queues })).sort((a, b) => b.queues - a.queues);
}

/**
 * Pure: is this process (its executable and environment, as /proc shows
 * them) the Erlang VM of that node? A pid file can be stale and its pid
 * reused: we SIGKILL only a `beam.smp` started with that node's name.
 */
export function isBeamOfNode(executable: string, environ: readonly string[], nodeName: string): boolean {
  return /(^|\/)beam(\.smp)?$/.test(executable) && environ.includes(`RABBITMQ_NODENAME=${nodeName}`);
}
