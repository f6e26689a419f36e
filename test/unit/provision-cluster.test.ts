import { describe, expect, it } from 'vitest';
import { parseAmqpUrls, parseManagementUrls, rotateUrls } from '../../src/broker/urls.ts';
import { managementUrlFor } from '../../src/broker/find-broker.ts';
import { loadConfig } from '../../src/config.ts';
import { exportLines, isBeamOfNode, leadersPerNode, nodeNames, parseClusterState, type ClusterState } from '../../src/provision/cluster-state.ts';

const state: ClusterState = {
  version: 1,
  id: 'ab12cd',
  nodes: nodeNames('ab12cd', 3).map((names, i) => ({ ...names, amqpPort: 5681 + i, managementPort: 15681 + i, distPort: 25681 + i })),
  plugins: ['rabbitmq_management'],
  ctlDistPorts: { min: 45_000, max: 45_010 },
  config: [],
};

describe('local cluster: pure parts', () => {
  it('names nodes c1..cN, unique to the cluster', () => {
    expect(nodeNames('ab12cd', 3)).toEqual([
      { name: 'c1', nodeName: 'warren-ab12cd-c1@localhost' },
      { name: 'c2', nodeName: 'warren-ab12cd-c2@localhost' },
      { name: 'c3', nodeName: 'warren-ab12cd-c3@localhost' },
    ]);
  });

  it('round-trips its state file and refuses a broken one', () => {
    expect(parseClusterState(JSON.stringify(state))).toEqual(state);
    expect(() => parseClusterState(JSON.stringify({ ...state, nodes: [] }))).toThrow();
    expect(() => parseClusterState('{')).toThrow();
  });

  it('prints every node in the export lines, which the URL parsers read back', () => {
    const [amqp, management] = exportLines(state);
    expect(amqp).toBe("export AMQP_URL='amqp://guest:guest@127.0.0.1:5681,amqp://guest:guest@127.0.0.1:5682,amqp://guest:guest@127.0.0.1:5683'");
    const value = (line: string | undefined) => /='(.*)'$/.exec(line ?? '')?.[1];
    expect(parseAmqpUrls(value(amqp))).toHaveLength(3);
    expect(parseManagementUrls(value(management))).toEqual([
      'http://guest:guest@127.0.0.1:15681',
      'http://guest:guest@127.0.0.1:15682',
      'http://guest:guest@127.0.0.1:15683',
    ]);
  });

  it('counts queue leaders per node, busiest first (classic queues count on their node, an election counts nowhere)', () => {
    const ranked = leadersPerNode(
      ['n1', 'n2', 'n3'],
      [
        { name: 'a', leader: 'n2' },
        { name: 'b', leader: 'n2' },
        { name: 'c', node: 'n3' },
        { name: 'd', leader: null },
        { name: 'e', leader: 'elsewhere' },
      ],
    );
    expect(ranked).toEqual([
      { node: 'n2', queues: 2 },
      { node: 'n3', queues: 1 },
      { node: 'n1', queues: 0 },
    ]);
  });

  it('signals only the beam.smp started with that node name', () => {
    const env = ['HOME=/tmp/x', 'RABBITMQ_NODENAME=warren-ab12cd-c1@localhost'];
    expect(isBeamOfNode('/usr/lib/erlang/erts-13.1.5/bin/beam.smp', env, 'warren-ab12cd-c1@localhost')).toBe(true);
    expect(isBeamOfNode('/usr/lib/erlang/erts-13.1.5/bin/beam.smp', env, 'warren-ab12cd-c2@localhost')).toBe(false);
    expect(isBeamOfNode('/usr/bin/node', env, 'warren-ab12cd-c1@localhost')).toBe(false);
    // The shared node is started without RABBITMQ_NODENAME in its environment.
    expect(isBeamOfNode('/usr/lib/erlang/erts-13.1.5/bin/beam.smp', ['HOME=/var/lib/rabbitmq'], 'rabbit@localhost')).toBe(false);
  });
});

describe('URL lists', () => {
  it('rotates a list to start anywhere, wrapping round', () => {
    expect(rotateUrls(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotateUrls(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotateUrls(['a', 'b', 'c'], 5)).toEqual(['c', 'a', 'b']);
    expect(rotateUrls(['a', 'b', 'c'], -1)).toEqual(['c', 'a', 'b']);
    expect(rotateUrls([], 3)).toEqual([]);
  });

  it('reads RABBITMQ_MANAGEMENT_URL as one URL or a list, and refuses a list with a non-URL', () => {
    const config = loadConfig({ RABBITMQ_MANAGEMENT_URL: 'http://u:p@h1:15672, http://u:p@h2:15672' });
    expect(config.managementUrls).toEqual(['http://u:p@h1:15672', 'http://u:p@h2:15672']);
    expect(loadConfig({}).managementUrls).toEqual(['http://guest:guest@127.0.0.1:15672']);
    expect(() => loadConfig({ RABBITMQ_MANAGEMENT_URL: 'http://h1:15672,not a url' })).toThrow(/RABBITMQ_MANAGEMENT_URL/);
  });

  it('derives one management URL per AMQP node when RABBITMQ_MANAGEMENT_URL is unset', () => {
    expect(managementUrlFor({ AMQP_URL: 'amqp://u:p@h1:5672,amqp://u:p@h2:5672' })).toBe('http://u:p@h1:15672,http://u:p@h2:15672');
    expect(managementUrlFor({ AMQP_URL: 'amqp://u:p@h1:5672', RABBITMQ_MANAGEMENT_URL: 'http://x:15672' })).toBe('http://x:15672');
  });
});
