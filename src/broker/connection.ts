import amqp, { type AmqpConnectionManager } from 'amqp-connection-manager';
import { EventEmitter } from 'node:events';
import { redactText, redactUrl, rotateUrls } from './urls.ts';

/**
 * Where the next connection of this process starts in its URL list: random
 * for the first one (so processes started together do not all pick the same
 * node), then one further for each (so one process's connections spread too).
 */
let nextStart = Math.floor(Math.random() * 1_000_000);

export interface BrokerConnectionOptions {
  /**
   * One URL, or several nodes of a cluster. The connection starts at a node
   * of its own (see `firstUrl`), and after a loss reconnects to the next one
   * in the list, round-robin.
   */
  urls: string[];
  /** Index of the URL to try first. @defaultValue a different node for each connection, starting at random */
  firstUrl?: number;
  /** Shown in the management UI's connection list. @defaultValue 'warren' */
  name?: string;
  /** @defaultValue 10 */
  heartbeatSeconds?: number;
  /** Delay between reconnect attempts. @defaultValue 1 */
  reconnectSeconds?: number;
  /**
   * TCP_NODELAY. On for connections that wait on the broker's answer (a
   * confirm, a get): with Nagle's algorithm each can stall ~40 ms. Off for a
   * consuming connection, whose acks are one-way: there Nagle coalesces them
   * into fewer packets, and the broker (the bottleneck) does less work.
   * @defaultValue true
   */
  noDelay?: boolean;
}

export interface ConnectionState {
  connected: boolean;
  /** Set while the broker has blocked publishing (memory or disk alarm). */
  blocked: string | undefined;
  /** The node we are connected to, password redacted. */
  url: string | undefined;
}

/**
 * One long-lived, self-healing AMQP connection. Producers and workers each
 * make their own, so a publisher blocked by a memory alarm never stalls the
 * acks of a consumer. Tracks the connected / blocked state that readiness
 * checks and fail-fast publishing read synchronously.
 */
export class BrokerConnection extends EventEmitter {
  readonly manager: AmqpConnectionManager;
  private readonly current: ConnectionState = { connected: false, blocked: undefined, url: undefined };
  private closing: Promise<void> | undefined;

  constructor(options: BrokerConnectionOptions) {
    super();
    this.manager = amqp.connect(rotateUrls(options.urls, options.firstUrl ?? nextStart++), {
      heartbeatIntervalInSeconds: options.heartbeatSeconds ?? 10,
      reconnectTimeInSeconds: options.reconnectSeconds ?? 1,
      connectionOptions: { noDelay: options.noDelay ?? true, clientProperties: { connection_name: options.name ?? 'warren' } },
    });
    this.manager.on('connect', ({ url }) => {
      this.current.connected = true;
      this.current.blocked = undefined;
      this.current.url = typeof url === 'string' ? redactUrl(url) : undefined;
      this.emit('state', this.state);
    });
    this.manager.on('disconnect', ({ err }) => {
      this.current.connected = false;
      this.current.blocked = undefined;
      this.emit('state', this.state, err ? redactText(err.message) : undefined);
    });
    this.manager.on('connectFailed', ({ err }) => {
      this.emit('connectFailed', redactText(err.message));
    });
    this.manager.on('blocked', ({ reason }) => {
      this.current.blocked = reason || 'blocked';
      this.emit('state', this.state);
    });
    this.manager.on('unblocked', () => {
      this.current.blocked = undefined;
      this.emit('state', this.state);
    });
  }

  get state(): ConnectionState {
    return { ...this.current };
  }

  /** Resolves once connected; rejects after `timeoutMs`. */
  async waitForConnect(timeoutMs = 10_000): Promise<void> {
    await this.manager.connect({ timeout: timeoutMs });
  }

  /** Safe to call more than once; every call gets the same promise. */
  close(): Promise<void> {
    this.closing ??= this.manager.close().catch(() => undefined);
    return this.closing;
  }
}
