import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What a private node enables: the management API warren needs, and the consistent-hash exchange a user's topology may declare. */
export const PRIVATE_NODE_PLUGINS = ['rabbitmq_consistent_hash_exchange', 'rabbitmq_management'] as const;

export interface PrivateNode {
  nodeName: string;
  amqpUrl: string;
  managementUrl: string;
  /** `rabbitmqctl -n <node> <args>` */
  ctl(...args: string[]): Promise<string>;
  /** Stops the node and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PrivateNodeOptions {
  plugins?: readonly string[];
  /** Give up waiting for the node after this long. @defaultValue 90_000 */
  startTimeoutMs?: number;
}

/**
 * Everything that makes one RabbitMQ node of our own: its name, its ports on
 * 127.0.0.1 and the directory holding its config, data, logs and pid file.
 * `startPrivateNode` builds one; the local cluster (src/provision/cluster.ts)
 * builds three that share a `cookieHome`.
 */
export interface NodeSpec {
  nodeName: string;
  dir: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  plugins: readonly string[];
  /**
   * A directory holding an `.erlang.cookie` of our own. Unset: the
   * installation's cookie (the shared node's), which is fine for a lone node
   * but would let a cluster node talk to the shared one.
   */
  cookieHome?: string;
  /**
   * The port range `rabbitmqctl` listens on while it talks to the node. Unset:
   * RabbitMQ's default (35672-35682), the range every CLI call on this machine
   * uses for the shared node.
   */
  ctlDistPorts?: { min: number; max: number };
  /** Extra `rabbitmq.conf` lines. */
  config?: readonly string[];
}

export const nodeUrls = (spec: NodeSpec) => ({
  amqpUrl: `amqp://guest:guest@127.0.0.1:${spec.amqpPort}`,
  managementUrl: `http://guest:guest@127.0.0.1:${spec.managementPort}`,
});

export const pidFileOf = (spec: NodeSpec): string => join(spec.dir, 'rabbit.pid');

/** True when a `rabbitmq-server` can be started on this machine. */
export async function canStartPrivateNode(): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v rabbitmq-server && command -v rabbitmqctl']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a RabbitMQ node of our own: its own node name, ports on 127.0.0.1
 * and data/log directories under a temp dir. Tests that stop the broker or
 * raise alarms use one, so they never disturb the machine's shared broker.
 */
export async function startPrivateNode(options: PrivateNodeOptions = {}): Promise<PrivateNode> {
  const [amqpPort, managementPort, distPort] = await freePorts(3);
  const id = `warren-${process.pid}-${Date.now().toString(36)}`;
  const spec: NodeSpec = {
    nodeName: `${id}@localhost`,
    dir: mkdtempSync(join(tmpdir(), `${id}-`)),
    amqpPort: amqpPort as number,
    managementPort: managementPort as number,
    distPort: distPort as number,
    plugins: options.plugins ?? PRIVATE_NODE_PLUGINS,
  };
  writeNodeFiles(spec);
  const ctl = nodeCtl(spec);
  let stopped: Promise<void> | undefined;
  const node: PrivateNode = {
    nodeName: spec.nodeName,
    ...nodeUrls(spec),
    ctl,
    stop() {
      stopped ??= stopNode(spec).then(() => rmSync(spec.dir, { recursive: true, force: true }));
      return stopped;
    },
  };
  try {
    await launchNode(spec);
    await waitUntilUp(ctl, options.startTimeoutMs ?? 90_000);
    // A node without the management plugin (a stock broker, in tests) has no API to wait for.
    if (spec.plugins.includes('rabbitmq_management')) await waitForManagement(node.managementUrl, 30_000);
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}

/** Writes the node's `rabbitmq.conf` and `enabled_plugins` and hands its directory to the `rabbitmq` user. */
export function writeNodeFiles(spec: NodeSpec): void {
  mkdirSync(spec.dir, { recursive: true });
  writeFileSync(
    join(spec.dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${spec.amqpPort}`,
      `management.tcp.ip = 127.0.0.1`,
      `management.tcp.port = ${spec.managementPort}`,
      'loopback_users = none',
      ...(spec.config ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(join(spec.dir, 'enabled_plugins'), `[${spec.plugins.join(',')}].\n`);
  giveToRabbitmqUser(spec.dir);
}

/** The environment every server and CLI call of this node runs with. */
export function nodeEnv(spec: NodeSpec): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RABBITMQ_NODENAME: spec.nodeName,
    RABBITMQ_CONFIG_FILE: join(spec.dir, 'rabbitmq'),
    RABBITMQ_MNESIA_BASE: join(spec.dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(spec.dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(spec.dir, 'enabled_plugins'),
    RABBITMQ_DIST_PORT: String(spec.distPort),
    RABBITMQ_PID_FILE: pidFileOf(spec),
    ...(spec.cookieHome !== undefined && { HOME: spec.cookieHome }),
    ...(spec.ctlDistPorts !== undefined && {
      RABBITMQ_CTL_DIST_PORT_MIN: String(spec.ctlDistPorts.min),
      RABBITMQ_CTL_DIST_PORT_MAX: String(spec.ctlDistPorts.max),
    }),
  };
}

interface Invocation {
  file: string;
  uid?: number;
  gid?: number;
}

/** Where the real scripts live on Debian/Ubuntu: the ones on the PATH are wrappers that reset HOME. */
const PACKAGED_SCRIPTS = '/usr/lib/rabbitmq/bin';

/**
 * How to run a RabbitMQ script for this node. Without a cookie of its own,
 * the script on the PATH (the Debian wrapper drops to the `rabbitmq` user
 * when run as root). With one, the wrapper would not do: it runs `su`, which
 * resets HOME to the rabbitmq user's and so picks the shared cookie. Then,
 * as root, run the packaged script directly as the `rabbitmq` user; else as
 * ourselves.
 */
function invocation(spec: NodeSpec, script: 'rabbitmq-server' | 'rabbitmqctl'): Invocation {
  if (spec.cookieHome === undefined) return { file: script };
  const packaged = join(PACKAGED_SCRIPTS, script);
  const ids = userInfo().uid === 0 ? rabbitmqIds() : undefined;
  if (ids !== undefined && existsSync(packaged)) return { file: packaged, ...ids };
  return { file: existsSync(packaged) ? packaged : script };
}

/** `rabbitmqctl -n <node> <args>`, with the node's cookie and CLI port range; resolves with stdout. */
export function nodeCtl(spec: NodeSpec): (...args: string[]) => Promise<string> {
  const how = invocation(spec, 'rabbitmqctl');
  return async (...args) =>
    (
      await run(how.file, ['-n', spec.nodeName, ...args], {
        env: nodeEnv(spec),
        cwd: spec.dir,
        timeout: 120_000,
        ...(how.uid !== undefined && { uid: how.uid, gid: how.gid }),
      })
    ).stdout;
}

/** `rabbitmq-server -detached`: returns once the script has forked the VM, long before the node is up. */
export async function launchNode(spec: NodeSpec): Promise<void> {
  const how = invocation(spec, 'rabbitmq-server');
  const server = spawn(how.file, ['-detached'], {
    env: nodeEnv(spec),
    cwd: spec.dir,
    stdio: 'ignore',
    ...(how.uid !== undefined && { uid: how.uid, gid: how.gid }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('exit', () => resolve());
  });
}

/** `rabbitmqctl stop <pid file>` (which also waits for the VM to exit, so the ports are free once this resolves); never throws. */
export async function stopNode(spec: NodeSpec): Promise<void> {
  const ctl = nodeCtl(spec);
  await ctl('stop', pidFileOf(spec))
    .catch(() => ctl('stop'))
    .catch(() => undefined);
}

/** Retries `await_startup` until the node answers (the server script returns before the node listens). */
export async function waitUntilUp(ctl: PrivateNode['ctl'], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await ctl('await_startup', '--timeout', '20');
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  throw new Error(`private RabbitMQ node did not start within ${timeoutMs} ms`, { cause: last });
}

export async function waitForManagement(url: string, timeoutMs: number): Promise<void> {
  const parsed = new URL(url);
  const auth = Buffer.from(`${parsed.username}:${parsed.password}`).toString('base64');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://${parsed.host}/api/overview`, { headers: { authorization: `Basic ${auth}` } });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`management API of the private node did not answer within ${timeoutMs} ms`);
}

/**
 * The server script drops to the `rabbitmq` user when started as root (and
 * the cluster runs its scripts as that user): it must own the node's files.
 */
export function giveToRabbitmqUser(path: string): void {
  if (userInfo().uid !== 0) return;
  const ids = rabbitmqIds();
  if (ids === undefined) return;
  const own = (entry: string) => {
    chownSync(entry, ids.uid, ids.gid);
    if (statSync(entry).isDirectory()) for (const child of readdirSync(entry)) own(join(entry, child));
  };
  own(path);
}

/**
 * When the nodes will run as the `rabbitmq` user, it must be able to reach
 * `dir`: every directory above it must let that user through (a `mkdtemp`
 * directory is root's, mode 700). Throws saying which one does not.
 */
export function assertRabbitmqCanReach(dir: string): void {
  if (userInfo().uid !== 0) return;
  const ids = rabbitmqIds();
  if (ids === undefined) return;
  for (let current = dirname(dir); ; current = dirname(current)) {
    if (existsSync(current)) {
      const { mode, uid, gid } = statSync(current);
      const through = (mode & 0o001) !== 0 || (uid === ids.uid && (mode & 0o100) !== 0) || (gid === ids.gid && (mode & 0o010) !== 0);
      if (!through) throw new Error(`the rabbitmq user cannot reach ${dir}: ${current} does not let it through (chmod o+x ${current}, or pick another directory)`);
    }
    if (dirname(current) === current) return;
  }
}

/** The `rabbitmq` user's ids when it exists (a packaged install), else `undefined`: the node runs as ourselves. */
function rabbitmqIds(): { uid: number; gid: number } | undefined {
  if (!existsSync('/var/lib/rabbitmq')) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('rabbitmq:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * The default distribution and CLI ports of the machine's shared node
 * (25672, 35672-35682): never hand them to a node of ours, or a
 * `rabbitmqctl` someone runs against the shared node could fail to bind.
 */
const RESERVED_PORTS = { min: 25_672, max: 25_672 };
const RESERVED_CLI_PORTS = { min: 35_672, max: 35_682 };
const isReserved = (port: number, extra: ReadonlyArray<{ min: number; max: number }> = []) =>
  [RESERVED_PORTS, RESERVED_CLI_PORTS, ...extra].some((range) => port >= range.min && port <= range.max);

/** Ports the OS says are free right now (none of the shared node's defaults, none in `avoid`). */
export async function freePorts(count: number, avoid: ReadonlyArray<{ min: number; max: number }> = []): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (!ports.includes(port) && !isReserved(port, avoid)) ports.push(port);
  }
  return ports;
}

/** `size` consecutive ports that are free right now, outside the ephemeral range's busiest part and the shared node's. */
export async function freePortRange(size: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 40_000 + Math.floor(Math.random() * 20_000);
    const range = { min, max: min + size - 1 };
    let free = true;
    for (let port = range.min; port <= range.max && free; port++) free = await isPortFree(port);
    if (free) return range;
  }
  throw new Error(`found no ${size} consecutive free ports`);
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
