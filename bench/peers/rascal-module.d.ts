/**
 * The few parts of Rascal (no published types) that bench/peers/rascal-child.ts
 * uses. Rascal is a devDependency of the benchmark only.
 */
declare module 'rascal' {
  import type { EventEmitter } from 'node:events';

  export interface RascalMessage {
    fields: { deliveryTag: number; redelivered: boolean };
    properties: { messageId?: string; contentType?: string };
    content: Buffer;
  }

  export interface SubscriberSession extends EventEmitter {
    on(event: 'message', listener: (message: RascalMessage, content: unknown, ackOrNack: (error?: Error) => void) => void): this;
    on(event: 'error' | 'invalid_content' | 'redeliveries_exceeded', listener: (error: Error) => void): this;
    cancel(): Promise<void>;
  }

  export interface Publication extends EventEmitter {
    on(event: 'success', listener: (messageId: string) => void): this;
    on(event: 'error', listener: (error: Error, messageId?: string) => void): this;
    on(event: 'return', listener: (message: RascalMessage) => void): this;
  }

  export interface BrokerAsPromised extends EventEmitter {
    subscribe(name: string, overrides?: Record<string, unknown>): Promise<SubscriberSession>;
    publish(name: string, message: unknown, overrides?: Record<string, unknown>): Promise<Publication>;
    shutdown(): Promise<void>;
  }

  export type RascalConfig = Record<string, unknown>;

  const rascal: {
    BrokerAsPromised: { create(config: RascalConfig): Promise<BrokerAsPromised> };
    withDefaultConfig(config: RascalConfig): RascalConfig;
  };
  export default rascal;
}
