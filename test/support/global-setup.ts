import { connect } from 'amqplib';
import { ManagementClient } from '../../src/broker/management.ts';
import { redactUrl } from '../../src/broker/urls.ts';

/**
 * Finds the broker for the whole run, once: `AMQP_URL` when set, else the
 * local default address when a broker answers there, else a testcontainers
 * RabbitMQ when a Docker engine answers, else the run fails
 * with a message saying how to get one. A test never passes because no
 * broker was found.
 */
export default async function setup(): Promise<() => Promise<void>> {
  let stop = async () => {};
  await useLocalServicesWhenUnset();
  if (!process.env.AMQP_URL) {
    const container = await startContainer();
    if (!container) throw new Error(HOW_TO_GET_A_BROKER);
    process.env.AMQP_URL = container.amqpUrl;
    process.env.RABBITMQ_MANAGEMENT_URL = container.managementUrl;
    stop = container.stop;
  }
  const url = process.env.AMQP_URL.split(',')[0] ?? '';
  try {
    const connection = await connect(url);
    await connection.close();
  } catch (error) {
    throw new Error(`cannot connect to the broker at ${redactUrl(url)}: ${(error as Error).message}\n${HOW_TO_GET_A_BROKER}`);
  }
  const management = new ManagementClient();
  if (!(await management.isReachable())) {
    throw new Error(
      `the RabbitMQ management API at ${management.displayUrl} does not answer: ` +
        'enable it with `rabbitmq-plugins enable rabbitmq_management` (or set RABBITMQ_MANAGEMENT_URL)',
    );
  }
  return stop;
}

const HOW_TO_GET_A_BROKER = [
  'No RabbitMQ broker for the integration tests. Either:',
  '  - run one locally (`rabbitmq-server -detached`, with the plugins rabbitmq_consistent_hash_exchange and rabbitmq_management)',
  '    and set AMQP_URL=amqp://guest:guest@127.0.0.1:5672 (this is what `.ci/run` does), or',
  '  - start a Docker engine, so the tests can start a RabbitMQ container through testcontainers.',
].join('\n');

/**
 * `npm ci && npm test` on a machine with the usual local services: an unset
 * AMQP_URL / REDIS_URL / DATABASE_URL takes the local default address when
 * something answers there (the same defaults as findBroker and the probes).
 */
async function useLocalServicesWhenUnset(): Promise<void> {
  const { tryAmqpConnect } = await import('../../src/broker/find-broker.ts');
  const { DEFAULT_AMQP_URL } = await import('../../src/broker/urls.ts');
  const { findOptionalServices } = await import('../../src/services/probe.ts');
  if (!process.env.AMQP_URL && (await tryAmqpConnect(DEFAULT_AMQP_URL)).ok) process.env.AMQP_URL = DEFAULT_AMQP_URL;
  const { redis, postgres } = await findOptionalServices(process.env);
  if (!process.env.REDIS_URL && redis.available) process.env.REDIS_URL = redis.url;
  if (!process.env.DATABASE_URL && postgres.available) process.env.DATABASE_URL = postgres.url;
}

async function startContainer(): Promise<{ amqpUrl: string; managementUrl: string; stop: () => Promise<void> } | undefined> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  const container = await new GenericContainer('rabbitmq:3.13-management')
    .withExposedPorts(5672, 15672)
    .withCommand([
      'sh',
      '-c',
      'rabbitmq-plugins enable --offline rabbitmq_consistent_hash_exchange && exec docker-entrypoint.sh rabbitmq-server',
    ])
    .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
    .start();
  const host = container.getHost();
  return {
    amqpUrl: `amqp://guest:guest@${host}:${container.getMappedPort(5672)}`,
    managementUrl: `http://guest:guest@${host}:${container.getMappedPort(15672)}`,
    stop: async () => {
      await container.stop();
    },
  };
}
