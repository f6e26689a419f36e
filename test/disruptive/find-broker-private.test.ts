import { connect } from 'amqplib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findBroker, probeBroker, type FoundBroker } from '../../src/broker/find-broker.ts';
import { ManagementClient } from '../../src/broker/management.ts';
import { freePorts } from '../../src/broker/private-node.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';
import { portIsOpen } from '../support/net.ts';

const run = promisify(execFile);

/** The OS pid of a node's Erlang VM, asked from the node itself. */
async function osPidOf(nodeName: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-n', nodeName, 'eval', 'os:getpid().']);
  return Number(stdout.trim().replace(/"/g, ''));
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('findBroker when nothing answers at AMQP_URL', () => {
  let broker: FoundBroker | undefined;
  afterAll(async () => {
    await broker?.stop();
  });

  it('refuses to start anything without the fallback, naming the three ways', async () => {
    const [closed] = await freePorts(1);
    const env = { AMQP_URL: `amqp://guest:s3cret@127.0.0.1:${closed}` };
    const error = await findBroker({ env, fallback: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain('AMQP_URL');
    expect(message).toContain('docker compose');
    expect(message).toContain('rabbitmq-server');
    expect(message).not.toContain('s3cret');
  });

  it('starts a private node with both plugins, and leaves nothing behind after stop()', async () => {
    const [closed] = await freePorts(1);
    broker = await findBroker({ env: { AMQP_URL: `amqp://guest:guest@127.0.0.1:${closed}` }, fallback: true });
    expect(broker.source).toBe('private-node');
    expect(broker.amqpUrl).not.toContain(`:${closed}`);

    const connection = await connect(broker.amqpUrl);
    const channel = await connection.createChannel();
    // Declaring this exchange type fails unless the consistent-hash plugin runs.
    await channel.assertExchange('find-broker.hash', 'x-consistent-hash', { durable: false, autoDelete: true });
    await connection.close();

    expect(await probeBroker(broker.amqpUrl, broker.managementUrl)).toEqual({ status: 'ok' });
    const overview = await new ManagementClient(broker.managementUrl).get<{ node: string }>('/overview');
    const nodeName = overview?.node ?? 'missing';
    expect(nodeName).toMatch(/^warren-/);
    const pid = await osPidOf(nodeName);
    expect(processExists(pid)).toBe(true);

    const amqpPort = Number(new URL(broker.amqpUrl).port);
    const managementPort = Number(new URL(broker.managementUrl).port);
    await broker.stop();
    await broker.stop(); // safe twice

    expect(processExists(pid)).toBe(false);
    expect(await portIsOpen(amqpPort)).toBe(false);
    expect(await portIsOpen(managementPort)).toBe(false);
  });
});
