import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagementClient } from '../broker/management.ts';
import {
  assertRabbitmqCanReach,
  freePortRange,
  freePorts,
  giveToRabbitmqUser,
  launchNode,
  nodeCtl,
  nodeUrls,
  pidFileOf,
  PRIVATE_NODE_PLUGINS,
  stopNode,
  waitForManagement,
  writeNodeFiles,
  type NodeSpec,
} from '../broker/private-node.ts';
import { exportLines, isBeamOfNode, leadersPerNode, nodeNames, parseClusterState, STATE_FILE, type ClusterState, type QueuePlacement } from './cluster-state.ts';

/**
 * A local RabbitMQ cluster of private nodes (three by default), for
 * development and the failure suite: `warren dev cluster up|down`,
 * `npm run chaos -- --cluster`, test/disruptive/cluster-*.test.ts.
 *
 * Each node is a private node (src/broker/private-node.ts: own name, ports,
 * data dir). What makes them one cluster and keeps them away from the
 * machine's shared node (rabbit@localhost on 5672, which other people use):
 * an Erlang cookie of their own (every server and CLI call runs with HOME at
 * a directory holding it), CLI distribution ports outside the shared node's
 * range, and node names unique to this cluster. Nodes 2..N join node 1
 * (`stop_app`, `join_cluster`, `start_app`).
 */

export interface ClusterOptions {
  /**
   * Where the nodes' config, data, logs, pid files, cookie and the state
   * file go. Created when missing; must not hold a cluster already.
   * @defaultValue a new temp dir
   */
  dir?: string;
  /** @defaultValue 3 */
  size?: number;
  /** @defaultValue consistent-hash exchange + management */
  plugins?: readonly string[];
  /** Extra `rabbitmq.conf` lines for every node. */
  config?: readonly string[];
  /** Per node. @defaultValue 120_000 (two cores shared with others can make a boot slow) */
  startTimeoutMs?: number;
  /** Progress lines. @defaultValue silent */
  log?: (line: string) => void;
}

export interface ClusterNode {
  /** c1, c2, c3 */
  name: string;
  /** The Erlang node name, e.g. warren-1a2b3c-c1@localhost */
  nodeName: string;
  amqpUrl: string;
  managementUrl: string;
  spec: NodeSpec;
}

const DEFAULT_START_TIMEOUT_MS = 120_000;

export class LocalCluster {
  readonly nodes: ClusterNode[];
  /** One client over every node's management API, tried in turn: answers while any node is up. */
  readonly management: ManagementClient;
  private stopping: Promise<void> | undefined;
  private exitGuard: (() => void) | undefined;

  private constructor(
    readonly dir: string,
    readonly state: ClusterState,
  ) {
    const cookieHome = join(dir, 'home');
    this.nodes = state.nodes.map((node) => {
      const spec: NodeSpec = {
        nodeName: node.nodeName,
        dir: join(dir, node.name),
        amqpPort: node.amqpPort,
        managementPort: node.managementPort,
        distPort: node.distPort,
        plugins: state.plugins,
        cookieHome,
        ctlDistPorts: state.ctlDistPorts,
        config: state.config,
      };
      return { name: node.name, nodeName: node.nodeName, ...nodeUrls(spec), spec };
    });
    this.management = new ManagementClient(this.managementUrls);
  }

  /** Starts a new cluster and joins its nodes (about 30 s on an idle 2-core machine). */
  static async start(options: ClusterOptions = {}): Promise<LocalCluster> {
    const log = options.log ?? (() => {});
    const size = options.size ?? 3;
    if (!Number.isInteger(size) || size < 1) throw new RangeError('a cluster needs at least one node');
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'warren-cluster-'));
    assertRabbitmqCanReach(dir);
    mkdirSync(dir, { recursive: true });
    if (existsSync(join(dir, STATE_FILE))) throw new Error(`${dir} already holds a cluster (${STATE_FILE}); stop it first`);

    const ctlDistPorts = await freePortRange(11);
    const ports = await freePorts(3 * size, [ctlDistPorts]);
    const id = randomBytes(3).toString('hex');
    const state: ClusterState = {
      version: 1,
      id,
      nodes: nodeNames(id, size).map((names, i) => ({
        ...names,
        amqpPort: ports[3 * i] as number,
        managementPort: ports[3 * i + 1] as number,
        distPort: ports[3 * i + 2] as number,
      })),
      plugins: [...(options.plugins ?? PRIVATE_NODE_PLUGINS)],
      ctlDistPorts,
      config: [...(options.config ?? [])],
    };
    const cluster = new LocalCluster(dir, state);
    cluster.writeFiles();
    try {
      log(`starting ${size} RabbitMQ node(s) in ${dir}`);
      await Promise.all(cluster.nodes.map((node) => cluster.boot(node, options.startTimeoutMs)));
      const [first, ...others] = cluster.nodes as [ClusterNode, ...ClusterNode[]];
      for (const node of others) {
        log(`${node.name} joins ${first.name}`);
        const ctl = nodeCtl(node.spec);
        await ctl('stop_app');
        await ctl('join_cluster', first.nodeName);
        await ctl('start_app');
        await waitForManagement(node.managementUrl, 60_000);
      }
      await cluster.waitUntilRunning(cluster.nodes, 60_000);
      log(`cluster of ${size} node(s) is up`);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** The cluster whose state is in `dir`, or `undefined` when there is none. Its nodes may or may not be running. */
  static open(dir: string): LocalCluster | undefined {
    const file = join(dir, STATE_FILE);
    if (!existsSync(file)) return undefined;
    return new LocalCluster(dir, parseClusterState(readFileSync(file, 'utf8')));
  }

  get amqpUrls(): string[] {
    return this.nodes.map((node) => node.amqpUrl);
  }

  get managementUrls(): string[] {
    return this.nodes.map((node) => node.managementUrl);
  }

  /** `export AMQP_URL=…` and `export RABBITMQ_MANAGEMENT_URL=…`, every node listed. */
  exportLines(): string[] {
    return exportLines(this.state);
  }

  node(name: string): ClusterNode {
    const node = this.nodes.find((n) => n.name === name || n.nodeName === name);
    if (node === undefined) throw new Error(`no node ${name} in this cluster`);
    return node;
  }

  /** `rabbitmqctl -n <node> …` with the cluster's cookie. */
  ctl(node: ClusterNode, ...args: string[]): Promise<string> {
    return nodeCtl(node.spec)(...args);
  }

  /** Node name → running, as the cluster sees it (any node answering). */
  async nodeStatus(): Promise<Map<string, boolean>> {
    const nodes = (await this.management.get<Array<{ name: string; running?: boolean }>>('/nodes')) ?? [];
    return new Map(nodes.map((n) => [n.name, n.running === true]));
  }

  /** How many queues each node leads (`vhost` only when given), busiest first. */
  async leaders(vhost?: string): Promise<Array<{ node: ClusterNode; queues: number }>> {
    const path = vhost === undefined ? '/queues' : `/queues/${encodeURIComponent(vhost)}`;
    const queues = (await this.management.get<QueuePlacement[]>(`${path}?columns=name,node,leader`)) ?? [];
    return leadersPerNode(
      this.nodes.map((n) => n.nodeName),
      queues,
    ).map(({ node, queues: count }) => ({ node: this.node(node), queues: count }));
  }

  /** The node leading the most queues (of `vhost` when given), leaving out `except`. */
  async busiestNode(options: { vhost?: string; except?: readonly ClusterNode[] } = {}): Promise<{ node: ClusterNode; queues: number }> {
    const ranked = (await this.leaders(options.vhost)).filter(({ node }) => !options.except?.includes(node));
    const busiest = ranked[0];
    if (busiest === undefined) throw new Error('no node left to choose from');
    return busiest;
  }

  /**
   * SIGKILLs the node's Erlang VM — a crash, not a shutdown: no goodbye to
   * the other nodes, no flush. The pid comes from the node's pid file and is
   * signalled only if /proc shows it is that node's `beam.smp`. Resolves once
   * the process is gone; returns its pid.
   */
  async kill(node: ClusterNode): Promise<number> {
    const pid = verifiedPid(node);
    if (pid === undefined) throw new Error(`node ${node.nodeName} is not running (no live beam.smp behind its pid file)`);
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) throw new Error(`node ${node.nodeName} (pid ${pid}) survived SIGKILL for 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return pid;
  }

  /**
   * Starts a node that was killed or stopped; resolves once it is running in
   * the cluster again. Waits on the management API, not `rabbitmqctl
   * await_startup`: on a busy machine the CLI (an Erlang VM of its own per
   * call) was seen to take two minutes to notice a node that had booted in 30 s.
   */
  async restart(node: ClusterNode, options: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<void> {
    const started = Date.now();
    const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    await launchNode(node.spec);
    await waitForManagement(node.managementUrl, options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    options.log?.(`${node.name} booted (${since()})`);
    await this.waitUntilRunning([node], 60_000);
    options.log?.(`${node.name} runs in the cluster (${since()})`);
  }

  /** Starts every node that is not running (all at once: after a full stop each waits for the others). */
  async startStopped(options: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<ClusterNode[]> {
    const stopped = this.nodes.filter((node) => verifiedPid(node) === undefined);
    if (stopped.length > 0) options.log?.(`starting ${stopped.map((n) => n.name).join(', ')}`);
    await Promise.all(stopped.map((node) => this.boot(node, options.timeoutMs)));
    await this.waitUntilRunning(this.nodes, 60_000);
    return stopped;
  }

  /**
   * Stops every node (SIGKILL for one that does not stop) and removes what
   * the cluster put in its directory. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(
        this.nodes.map(async (node) => {
          if (verifiedPid(node) !== undefined) await stopNode(node.spec);
          // One that did not stop, or is still booting (no pid file yet).
          killAll(beamPidsOf(node));
        }),
      );
      this.removeFiles();
      if (this.exitGuard) process.removeListener('exit', this.exitGuard);
    })();
    return this.stopping;
  }

  /** Copies every node's log directory to `<dest>/<node>/` (for a post-mortem before `destroy()`). */
  copyLogs(dest: string): void {
    for (const node of this.nodes) {
      const logs = join(node.spec.dir, 'log');
      if (existsSync(logs)) cpSync(logs, join(dest, node.name), { recursive: true });
    }
  }

  /**
   * For a throwaway cluster (tests, the chaos run): SIGKILLs every node and
   * removes its files — seconds faster than `stop()`. Safe to call twice.
   */
  destroy(): Promise<void> {
    this.stopping ??= (async () => {
      const pids = this.nodes.flatMap(beamPidsOf);
      killAll(pids);
      const deadline = Date.now() + 30_000;
      while (pids.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      this.removeFiles();
      if (this.exitGuard) process.removeListener('exit', this.exitGuard);
    })();
    return this.stopping;
  }

  /**
   * Makes sure the nodes do not outlive this process when it ends without
   * `stop()` (an error, Ctrl-C turned into `process.exit`): on exit, SIGKILL
   * them (synchronous, verified by pid file) and remove their files.
   */
  stopOnExit(): this {
    this.exitGuard ??= () => {
      killAll(this.nodes.flatMap(beamPidsOf));
      this.removeFiles();
    };
    process.once('exit', this.exitGuard);
    return this;
  }

  /** Launches the node and waits for its management API (which listens once the node has booted). */
  private async boot(node: ClusterNode, timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
    await launchNode(node.spec);
    await waitForManagement(node.managementUrl, timeoutMs);
  }

  private async waitUntilRunning(nodes: readonly ClusterNode[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.nodeStatus().catch(() => new Map<string, boolean>());
      if (nodes.every((node) => status.get(node.nodeName) === true)) return;
      if (Date.now() > deadline) {
        throw new Error(`cluster does not show ${nodes.map((n) => n.name).join(', ')} running after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private writeFiles(): void {
    const home = join(this.dir, 'home');
    mkdirSync(home, { recursive: true });
    const cookie = join(home, '.erlang.cookie');
    writeFileSync(cookie, randomCookie(), { mode: 0o400 });
    chmodSync(cookie, 0o400);
    chmodSync(home, 0o700);
    for (const node of this.nodes) writeNodeFiles(node.spec);
    writeFileSync(join(this.dir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`);
    giveToRabbitmqUser(this.dir);
  }

  /** Removes only what the cluster created, then the directory if that left it empty. */
  private removeFiles(): void {
    for (const entry of ['home', STATE_FILE, ...this.nodes.map((n) => n.name)]) rmSync(join(this.dir, entry), { recursive: true, force: true });
    try {
      if (readdirSync(this.dir).length === 0) rmdirSync(this.dir);
    } catch {
      // already gone
    }
  }
}

/** Erlang wants a cookie of letters; 32 of them from a CSPRNG. */
function randomCookie(): string {
  return [...randomBytes(32)].map((byte) => String.fromCharCode(65 + (byte % 26))).join('');
}

/** The pid in the node's pid file when it is that node's live `beam.smp`; else `undefined`. */
function verifiedPid(node: ClusterNode): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFileOf(node.spec), 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return undefined;
  try {
    const executable = readlinkSync(`/proc/${pid}/exe`);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return isBeamOfNode(executable, environ, node.nodeName) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every live VM of this node, found by scanning /proc: also one still
 * booting (no pid file yet) or one whose pid file is gone. Only a
 * `beam.smp` started with this node's name matches.
 */
function beamPidsOf(node: ClusterNode): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    const pid = verifiedPid(node);
    return pid === undefined ? [] : [pid];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    try {
      const executable = readlinkSync(`/proc/${entry}/exe`);
      if (!executable.endsWith('beam.smp')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (isBeamOfNode(executable, environ, node.nodeName) && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Alive and not a zombie (a killed VM nobody has reaped yet is dead to us). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
