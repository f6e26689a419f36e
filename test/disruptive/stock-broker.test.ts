import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBroker, probeBroker, type FoundBroker } from '../../src/broker/find-broker.ts';
import { startPrivateNode, type PrivateNode } from '../../src/broker/private-node.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';

const root = resolve(import.meta.dirname, '../..');
const ENABLE_BOTH = 'rabbitmq-plugins enable rabbitmq_consistent_hash_exchange rabbitmq_management';
const ENABLE_MANAGEMENT = 'rabbitmq-plugins enable rabbitmq_management';
const BOTH = ['rabbitmq_consistent_hash_exchange', 'rabbitmq_management'];

/**
 * A first hour on a stock broker: a private node with no plugin at all, as
 * Debian's RabbitMQ runs out of the box, standing at the address warren
 * looks at when AMQP_URL is unset. `warren demo` and `warren up` must start
 * a private node that has the plugins (and say why in one line) instead of
 * stopping; a broker the user named is refused with the fix; doctor names
 * the missing plugins and the command.
 */
describe('a stock RabbitMQ without the management and consistent-hash plugins', () => {
  let stock: PrivateNode;
  let started: FoundBroker | undefined;

  beforeAll(async () => {
    stock = await startPrivateNode({ plugins: [] });
  });

  afterAll(async () => {
    await started?.stop();
    await stock?.stop();
  });

  it('probeBroker names the missing management plugin and the command; the consistent-hash one too (asked over AMQP) when it is required', async () => {
    const probe = await probeBroker(stock.amqpUrl, stock.managementUrl);
    expect(probe).toMatchObject({ status: 'incomplete', missingPlugins: ['rabbitmq_management'] });
    expect(probe.status === 'incomplete' && probe.reason).toContain(ENABLE_MANAGEMENT);
    const both = await probeBroker(stock.amqpUrl, stock.managementUrl, BOTH);
    expect(both).toMatchObject({ status: 'incomplete', missingPlugins: BOTH });
    expect(both.status === 'incomplete' && both.reason).toContain(ENABLE_BOTH);
  });

  it('at the default address, with the fallback allowed (demo, up): a private node that has them, and one line saying why', async () => {
    const lines: string[] = [];
    started = await findBroker({ env: {}, fallback: true, local: { amqpUrl: stock.amqpUrl, managementUrl: stock.managementUrl }, log: (line) => lines.push(line) });
    expect(started.source).toBe('private-node');
    expect(started.amqpUrl).not.toBe(stock.amqpUrl);
    expect(await probeBroker(started.amqpUrl, started.managementUrl)).toEqual({ status: 'ok' });
    expect(lines).toEqual([expect.stringMatching(/lacks the plugin\(s\) rabbitmq_management.*starting a private RabbitMQ node that has them/)]);
  });

  it('named in AMQP_URL, or without the fallback: refused with the command that fixes it, nothing started', async () => {
    for (const options of [
      { env: { AMQP_URL: stock.amqpUrl, RABBITMQ_MANAGEMENT_URL: stock.managementUrl }, fallback: true },
      { env: {}, fallback: false, local: { amqpUrl: stock.amqpUrl, managementUrl: stock.managementUrl } },
    ]) {
      const error = await findBroker(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect((error as Error).message).toContain(ENABLE_MANAGEMENT);
    }
  });

  it('warren doctor names the missing plugins and the command, and exits 4', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(
        'node',
        ['bin/warren.js', 'doctor'],
        { cwd: root, env: { ...process.env, AMQP_URL: stock.amqpUrl, RABBITMQ_MANAGEMENT_URL: stock.managementUrl }, timeout: 90_000 },
        (error, _stdout, stderr) => done({ code: error ? Number(error.code) : 0, stderr }),
      );
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('lacks the plugin(s) rabbitmq_management');
    expect(result.stderr).toContain(ENABLE_MANAGEMENT);
  });
});
