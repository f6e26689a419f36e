import { EventEmitter } from 'node:events';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/broker/backoff.ts';
import { QueueSubscription, type QueueSubscriptionHooks } from '../../src/broker/queue-subscription.ts';
import { resolveWorkerOptions } from '../../src/worker/options.ts';
import { waitFor } from '../fixtures/workers/_support.ts';

describe('re-subscribe backoff', () => {
  const options = { initialMs: 100, maxMs: 1_000 };

  it('doubles per attempt up to the cap, the upper half random', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, () => 1))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect(backoffDelay(3, options, () => 0.5)).toBe(300);
  });

  it('stays in range for huge attempt counts and odd random values', () => {
    expect(backoffDelay(10_000, options, () => 1)).toBe(1_000);
    expect(backoffDelay(0, options, () => 1)).toBe(100);
    expect(backoffDelay(2, options, () => 7)).toBe(200);
    expect(backoffDelay(2, options, () => -1)).toBe(100);
  });

  it('is configurable on the worker and refuses a cap below the first wait', () => {
    const fallback = { urls: ['amqp://x'], workerId: 'w' };
    expect(resolveWorkerOptions({}, fallback)).toMatchObject({ resubscribeInitialMs: 250, resubscribeMaxMs: 10_000 });
    expect(() => resolveWorkerOptions({ resubscribeInitialMs: 500, resubscribeMaxMs: 100 }, fallback)).toThrow(RangeError);
    expect(() => resolveWorkerOptions({ resubscribeInitialMs: 0 }, fallback)).toThrow(RangeError);
  });
});

/** Just enough of an amqplib channel and connection: queues that exist or not, server cancels, channel errors. */
class FakeBroker {
  readonly queues = new Set<string>();
  readonly channels: FakeChannel[] = [];
  connected = true;
  readonly model = { createChannel: async () => this.open() } as unknown as ChannelModel;

  private open(): FakeChannel {
    if (!this.connected) throw new Error('connection closed');
    const channel = new FakeChannel(this);
    this.channels.push(channel);
    return channel;
  }

  /** The broker cancels every consumer of the queue (e.g. it was deleted). */
  cancelConsumersOf(queue: string): void {
    for (const channel of this.channels) channel.serverCancel(queue);
  }

  consumers(queue: string): number {
    return this.channels.filter((c) => c.open).reduce((sum, c) => sum + [...c.consumers.values()].filter((x) => x.queue === queue).length, 0);
  }
}

class FakeChannel extends EventEmitter {
  open = true;
  readonly consumers = new Map<string, { queue: string; callback: (message: ConsumeMessage | null) => void }>();
  private nextTag = 0;

  constructor(private readonly broker: FakeBroker) {
    super();
  }

  async checkQueue(queue: string) {
    this.assertOpen();
    if (!this.broker.queues.has(queue)) this.fail(`NOT_FOUND - no queue '${queue}'`);
    return { queue, messageCount: 0, consumerCount: 0 };
  }

  async prefetch() {
    this.assertOpen();
    return {};
  }

  async consume(queue: string, callback: (message: ConsumeMessage | null) => void) {
    this.assertOpen();
    if (!this.broker.queues.has(queue)) this.fail(`NOT_FOUND - no queue '${queue}'`);
    const consumerTag = `tag-${++this.nextTag}`;
    this.consumers.set(consumerTag, { queue, callback });
    return { consumerTag };
  }

  async cancel(tag: string) {
    this.consumers.delete(tag);
    return { consumerTag: tag };
  }

  async close() {
    this.assertOpen();
    this.shut();
  }

  serverCancel(queue: string): void {
    for (const [tag, consumer] of this.consumers) {
      if (consumer.queue !== queue) continue;
      this.consumers.delete(tag);
      consumer.callback(null);
    }
  }

  /** The broker closes the channel with an error, as a 404 does. */
  fail(message: string): never {
    this.emit('error', new Error(message));
    this.shut();
    throw new Error(message);
  }

  shut(): void {
    if (!this.open) return;
    this.open = false;
    this.consumers.clear();
    this.emit('close');
  }

  private assertOpen(): void {
    if (!this.open) throw new Error('Channel closed');
  }
}

function subscription(broker: FakeBroker, queue: string) {
  const events: string[] = [];
  const hooks: QueueSubscriptionHooks = {
    connection: () => (broker.connected ? broker.model : undefined),
    prefetch: 10,
    backoff: { initialMs: 2, maxMs: 20 },
    onDelivery: () => undefined,
    onSubscribed: ({ again }) => events.push(again ? 'subscribed-again' : 'subscribed'),
    onLost: () => events.push('lost'),
    onRetryFailed: () => events.push('retry-failed'),
  };
  return { subscription: new QueueSubscription(queue, hooks), events };
}

describe('a queue subscription', () => {
  it('fails its first attempt when the queue is missing, and says why', async () => {
    const broker = new FakeBroker();
    const { subscription: sub } = subscription(broker, 'q');
    await expect(sub.start()).rejects.toThrow(/cannot consume from "q": NOT_FOUND/);
    expect(sub.status).toMatchObject({ subscribed: false, reason: expect.stringContaining('NOT_FOUND') });
    await sub.close();
  });

  it('after a server cancel, waits for the queue to exist again and re-subscribes on the same channel', async () => {
    const broker = new FakeBroker();
    broker.queues.add('q');
    const { subscription: sub, events } = subscription(broker, 'q');
    await sub.start();
    const consuming = broker.channels.find((c) => c.consumers.size > 0);
    broker.queues.delete('q');
    broker.cancelConsumersOf('q');
    expect(sub.status).toMatchObject({ subscribed: false, reason: expect.stringContaining('cancelled by the broker') });
    await waitFor('a few failed tries', () => events.filter((e) => e === 'retry-failed').length >= 3, 2_000, 1);
    // The existence checks ran on throwaway channels; ours is still open for in-flight acks.
    expect(consuming?.open).toBe(true);
    broker.queues.add('q');
    await waitFor('subscribed again', () => sub.status.subscribed, 2_000, 1);
    expect(events[0]).toBe('subscribed');
    expect(events[1]).toBe('lost');
    expect(events.at(-1)).toBe('subscribed-again');
    expect(broker.consumers('q')).toBe(1);
    expect(consuming?.consumers.size).toBe(1);
    await sub.close();
    expect(broker.consumers('q')).toBe(0);
  });

  it('comes back on a new channel after its channel or the connection is lost', async () => {
    const broker = new FakeBroker();
    broker.queues.add('q');
    const { subscription: sub } = subscription(broker, 'q');
    await sub.start();
    const first = broker.channels.find((c) => c.consumers.size > 0);
    broker.connected = false;
    first?.shut();
    expect(sub.status.subscribed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sub.status).toMatchObject({ subscribed: false, reason: 'not connected to the broker' });
    broker.connected = true;
    sub.wake();
    await waitFor('subscribed again', () => sub.status.subscribed, 2_000, 1);
    expect(broker.consumers('q')).toBe(1);
    expect(broker.channels.find((c) => c.consumers.size > 0)).not.toBe(first);
    await sub.close();
  });

  it('stops for good: no re-subscribe after stop, even when stopped mid-attempt', async () => {
    const broker = new FakeBroker();
    broker.queues.add('q');
    const { subscription: sub } = subscription(broker, 'q');
    await sub.start();
    broker.queues.delete('q');
    broker.cancelConsumersOf('q');
    await sub.stop();
    broker.queues.add('q');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sub.status.subscribed).toBe(false);
    expect(broker.consumers('q')).toBe(0);

    const racing = subscription(broker, 'q').subscription;
    const starting = racing.start();
    await racing.stop();
    await starting.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(broker.consumers('q')).toBe(0);
    await racing.close();
  });
});
