import { BrokerConnection } from '../broker/connection.ts';
import { ConfirmPublisher, MissingExchangeError, type OutgoingMessage } from '../broker/confirm-publisher.ts';
import { redactText } from '../broker/urls.ts';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../errors.ts';

export type PublishOutcome =
  | { ok: true }
  /** `channelLost`: the publishing channel or connection failed; wait for `recover()` before the next publish. */
  | { ok: false; reason: string; channelLost: boolean; missingExchange: boolean };

/**
 * The publishing side of a replay: warren's one confirm/return tracker
 * (`ConfirmPublisher`) on a connection of its own, with a single confirm
 * channel so replays keep the DLQ's order (per-key order matters to sharded
 * consumers). A publish resolves with its outcome and never throws, so one
 * unreplayable message is a failure to count, not the end of the pass. A
 * channel the broker closed (404 on a deleted exchange, an oversized
 * message) is replaced by the publisher; `recover()` waits for it.
 */
export class ReplayPublisher {
  private constructor(
    private readonly connection: BrokerConnection,
    private readonly publisher: ConfirmPublisher,
  ) {}

  static async open(urls: string[], timeoutMs = 10_000): Promise<ReplayPublisher> {
    const connection = new BrokerConnection({ urls, name: 'warren-dlq-replay' });
    // A replay's confirms may be slow on a busy broker; a timeout would count a routed copy as failed.
    const publisher = new ConfirmPublisher(connection, { channels: 1, confirmTimeoutMs: 60_000, maxInFlight: 100_000 });
    const replay = new ReplayPublisher(connection, publisher);
    try {
      await connection.waitForConnect(timeoutMs);
      await replay.recover(timeoutMs);
    } catch (error) {
      await replay.close();
      throw error instanceof BrokerUnavailableError ? error : new BrokerUnavailableError(`cannot connect to the broker: ${redactText(String((error as Error).message))}`, { cause: error });
    }
    return replay;
  }

  async publish(message: OutgoingMessage): Promise<PublishOutcome> {
    try {
      await this.publisher.publish(message);
      return { ok: true };
    } catch (error) {
      return outcomeOf(error, message);
    }
  }

  /** Resolves once a publishing channel is open again; `BrokerUnavailableError` after `timeoutMs`. */
  async recover(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BrokerUnavailableError(`no publishing channel within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // Let the publisher's close handlers replace a failed channel first.
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.race([this.publisher.waitForConnect(), deadline]);
      const unavailable = this.publisher.unavailable();
      if (unavailable !== undefined) throw unavailable;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.publisher.close();
    await this.connection.close();
  }
}

function outcomeOf(error: unknown, message: OutgoingMessage): PublishOutcome {
  const target = message.exchange === '' ? `queue ${JSON.stringify(message.routingKey)}` : `exchange ${JSON.stringify(message.exchange)}`;
  if (error instanceof MissingExchangeError) {
    return { ok: false, reason: `the exchange ${JSON.stringify(message.exchange)} does not exist (is the topology applied?)`, channelLost: true, missingExchange: true };
  }
  if (error instanceof UnroutableError) {
    const why = message.exchange === '' ? `no queue ${JSON.stringify(message.routingKey)}` : 'no queue bound for it';
    return { ok: false, reason: `unroutable: ${why} (returned by ${target})`, channelLost: false, missingExchange: false };
  }
  if (error instanceof PublishRejectedError) {
    return { ok: false, reason: `nacked by the broker (${target} full with reject-publish, or a broker-side failure)`, channelLost: false, missingExchange: false };
  }
  const text = error instanceof Error ? redactText(error.message) : String(error);
  return { ok: false, reason: `not confirmed: ${text} (it may have reached ${target}; it stays in the DLQ too)`, channelLost: true, missingExchange: false };
}
