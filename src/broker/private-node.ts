import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REQUIRED_PLUGINS = ['rabbitmq_consistent_hash_exchange', 'rabbitmq_management'] as const;

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
  const nodeName = `${id}@localhost`;
  const dir = mkdtempSync(join(tmpdir(), `${id}-`));
  const plugins = options.plugins ?? REQUIRED_PLUGINS;
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `management.tcp.ip = 127.0.0.1`,
      `management.tcp.port = ${managementPort}`,
      'loopback_users = none',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
  giveToRabbitmqUser(dir);

  const env = {
    ...process.env,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
  };
  const ctl = async (...args: string[]) => (await run('rabbitmqctl', ['-n', nodeName, ...args], { env })).stdout;
  let stopped: Promise<void> | undefined;
  const node: PrivateNode = {
    nodeName,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    managementUrl: `http://guest:guest@127.0.0.1:${managementPort}`,
    ctl,
    stop() {
      // With the pid file, `rabbitmqctl stop` also waits for the VM to exit,
      // so the ports are free once this resolves.
      stopped ??= ctl('stop', join(dir, 'rabbit.pid'))
        .catch(() => ctl('stop'))
        .catch(() => undefined)
        .then(() => rmSync(dir, { recursive: true, force: true }));
      return stopped;
    },
  };

  const server = spawn('rabbitmq-server', ['-detached'], { env, stdio: 'ignore' });
  await new Promise<void>((resolve) => server.on('exit', () => resolve()));
  try {
    await waitUntilUp(ctl, options.startTimeoutMs ?? 90_000);
    await waitForManagement(node.managementUrl, 30_000);
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}

async function waitUntilUp(ctl: PrivateNode['ctl'], timeoutMs: number): Promise<void> {
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

async function waitForManagement(url: string, timeoutMs: number): Promise<void> {
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

/** The server script drops to the `rabbitmq` user when started as root. */
function giveToRabbitmqUser(dir: string): void {
  if (userInfo().uid !== 0 || !existsSync('/var/lib/rabbitmq')) return;
  try {
    const { uid, gid } = requireIds('rabbitmq');
    chownSync(dir, uid, gid);
    for (const file of ['rabbitmq.conf', 'enabled_plugins']) chownSync(join(dir, file), uid, gid);
  } catch {
    // no rabbitmq user: the node runs as ourselves
  }
}

function requireIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Ports the OS says are free right now. */
export async function freePorts(count: number): Promise<number[]> {
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
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}
