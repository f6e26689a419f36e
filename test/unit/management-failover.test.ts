import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagementClient } from '../../src/broker/management.ts';
import { freePorts } from '../../src/broker/private-node.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';

/**
 * The management client on a cluster, against tiny local HTTP servers
 * standing in for nodes: a node that is down (nothing listens), one that
 * answers 503, one that answers. No broker needed.
 */
describe('ManagementClient with several URLs', () => {
  const servers: Server[] = [];
  const hits = { healthy: [] as string[], failing: [] as string[] };
  let healthy = '';
  let failing = '';
  let down = '';

  const listen = (handler: Parameters<typeof createServer>[1]) =>
    new Promise<string>((resolve) => {
      const server = createServer(handler);
      servers.push(server);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(`http://guest:s3cret@127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
      });
    });

  beforeAll(async () => {
    healthy = await listen((req, res) => {
      hits.healthy.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/missing') res.statusCode = 404;
      res.end(res.statusCode === 404 ? '{}' : '{"node":"healthy"}');
    });
    failing = await listen((req, res) => {
      hits.failing.push(`${req.method} ${req.url}`);
      res.statusCode = 503;
      res.end('{"error":"node shutting down"}');
    });
    const [port] = await freePorts(1);
    down = `http://guest:s3cret@127.0.0.1:${port}`;
  });

  afterAll(() => {
    for (const server of servers) server.close();
  });

  it('accepts one comma-separated string, like RABBITMQ_MANAGEMENT_URL, and redacts every password', () => {
    const client = new ManagementClient(`${down}, ${healthy}`);
    expect(client.displayUrl.split(',')).toHaveLength(2);
    expect(client.displayUrl).not.toContain('s3cret');
  });

  it('passes over a node that is down and one that answers 5xx, and sticks to the one that answered', async () => {
    hits.healthy.length = 0;
    hits.failing.length = 0;
    const client = new ManagementClient([down, failing, healthy]);
    expect(await client.get('/overview')).toEqual({ node: 'healthy' });
    expect(hits.failing).toEqual(['GET /api/overview']);
    expect(await client.get('/nodes')).toEqual({ node: 'healthy' });
    // The second request went straight to the node that answered.
    expect(hits.failing).toEqual(['GET /api/overview']);
    expect(await client.get('/missing')).toBeUndefined();
    expect(await client.isReachable()).toBe(true);
  });

  it('does not resend a POST that a node may have received', async () => {
    hits.healthy.length = 0;
    hits.failing.length = 0;
    const client = new ManagementClient([failing, healthy]);
    await expect(client.post('/queues/%2F/q/get', { count: 1 })).rejects.toThrow(/answered 503/);
    expect(hits.failing).toEqual(['POST /api/queues/%2F/q/get']);
    expect(hits.healthy).toEqual([]);
  });

  it('sends a POST on when the first node refused the connection (nothing was sent)', async () => {
    hits.healthy.length = 0;
    const client = new ManagementClient([down, healthy]);
    expect(await client.post('/bindings/%2F/e/a/q/b', {})).toEqual({ node: 'healthy' });
    expect(hits.healthy).toEqual(['POST /api/bindings/%2F/e/a/q/b']);
  });

  it('says BrokerUnavailable, naming no password, when no node answers', async () => {
    const client = new ManagementClient([down, down.replace('127.0.0.1', 'localhost')]);
    const error = await client.get('/overview').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toContain('at none of');
    expect((error as Error).message).not.toContain('s3cret');
    expect(await client.isReachable()).toBe(false);
  });

  it('keeps the one-URL constructor of before', async () => {
    const client = new ManagementClient(healthy);
    expect(await client.get('/overview')).toEqual({ node: 'healthy' });
    expect(client.displayUrl).toBe(healthy.replace('s3cret', '***') + '/');
  });
});
