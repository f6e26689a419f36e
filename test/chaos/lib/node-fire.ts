import type { ClusterNode, LocalCluster } from '../../../src/provision/cluster.ts';
import type { Window } from './timeline.ts';

export interface NodeKill {
  node: string;
  /** Queues it led when it was killed. */
  ledQueues: number;
  /** From the SIGKILL to the node running in the cluster again. */
  down: Window;
}

/**
 * The cluster's share of the fire: at 25% of the posting time, SIGKILL the
 * node leading the most queues of the run's vhost, start it again after
 * `downMs`; at 60% (second kill) wait until every quorum queue has all its
 * members back, then do the same to the busiest of the other nodes.
 */
export function startNodeFire(input: {
  cluster: LocalCluster;
  vhost: string;
  durationMs: number;
  kills: number;
  downMs: number;
  log: (line: string) => void;
}): { kills: NodeKill[]; done: Promise<void>; cancel(): void } {
  const { cluster, vhost, log } = input;
  const kills: NodeKill[] = [];
  const waits: Array<{ timer: NodeJS.Timeout; resolve: () => void }> = [];
  let cancelled = false;
  const started = Date.now();
  const at = (fraction: number) =>
    new Promise<void>((resolve) => waits.push({ timer: setTimeout(resolve, Math.max(0, started + input.durationMs * fraction - Date.now())), resolve }));

  const killOne = async (except: ClusterNode[]) => {
    const { node, queues } = await cluster.busiestNode({ vhost, except });
    log(`SIGKILL node ${node.name} (${node.nodeName}), leader of ${queues} queue(s) of vhost ${vhost}`);
    const start = Date.now();
    const pid = await cluster.kill(node);
    log(`node ${node.name} (pid ${pid}) is dead; restarting it in ${input.downMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, input.downMs));
    await cluster.restart(node, { log });
    const end = Date.now();
    log(`node ${node.name} is running again, ${((end - start) / 1000).toFixed(1)} s after its SIGKILL`);
    kills.push({ node: node.name, ledQueues: queues, down: { start, end } });
    return node;
  };

  const done = (async () => {
    if (input.kills < 1) return;
    await at(0.25);
    if (cancelled) return;
    const first = await killOne([]);
    if (input.kills < 2) return;
    await at(0.6);
    if (cancelled) return;
    await waitForQuorumMembers(cluster, vhost, 60_000, log);
    await killOne([first]);
  })();
  return {
    kills,
    done,
    cancel() {
      cancelled = true;
      for (const wait of waits) {
        clearTimeout(wait.timer);
        wait.resolve();
      }
    },
  };
}

/** Until every quorum queue of the vhost has all its members online (a restarted node has caught up enough to count). */
async function waitForQuorumMembers(cluster: LocalCluster, vhost: string, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const queues =
      (await cluster.management
        .get<Array<{ name: string; type?: string; members?: string[]; online?: string[] }>>(`/queues/${encodeURIComponent(vhost)}?columns=name,type,members,online`)
        .catch(() => undefined)) ?? [];
    const behind = queues.filter((q) => q.type === 'quorum' && (q.online?.length ?? 0) < (q.members?.length ?? 0));
    if (queues.length > 0 && behind.length === 0) return;
    if (Date.now() > deadline) {
      log(`${behind.length} quorum queue(s) still lack a member after ${timeoutMs / 1000} s; killing anyway`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
