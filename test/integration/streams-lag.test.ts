import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobClient, type JobClient } from '../../src/client/index.ts';
import { runChecks } from '../../src/doctor/checks.ts';
import { inspect } from '../../src/doctor/inspect.ts';
import type { DoctorReport } from '../../src/doctor/report.ts';
import { startProducer, type RunningProducer } from '../../src/producer/index.ts';
import { groupStatus, type PartitionStatus } from '../../src/streams/group-admin.ts';
import { defineStreamWorker, startStreamWorker } from '../../src/streams/stream-worker.ts';
import { declarePlanAt } from '../../src/topology/declare.ts';
import { parseStreamLag } from '../../src/up/metrics-text.ts';
import { createTestVhost, type TestVhost } from '../support/broker.ts';
import { planOf } from '../fixtures/workers/_support.ts';
import { databaseUrl, GROUPS_TOPOLOGY, publishTicks, testTables, until } from '../support/stream-groups.ts';
import { get } from './producer-fixtures.ts';

const root = resolve(import.meta.dirname, '../..');
const plan = planOf(readFileSync(GROUPS_TOPOLOGY, 'utf8'));
const ticks = plan.streams?.find((s) => s.name === 'ticks');
if (ticks === undefined) throw new Error('the fixture topology has no ticks stream');

let vhost: TestVhost;
let client: JobClient;
let tables: Awaited<ReturnType<typeof testTables>>;
let producer: RunningProducer;
/** The group's partitions once the member stopped and 60 more events were published. */
let status: PartitionStatus[];

beforeAll(async () => {
  tables = await testTables();
  vhost = await createTestVhost('streams-lag');
  await declarePlanAt(vhost.url, plan);
  client = await createJobClient({ topology: plan, amqpUrls: [vhost.url] });
  await publishTicks(client, 200, 20);
  // A member of group `reporting` applies the first 200 events, then leaves: the next 60 are its lag.
  const member = await startStreamWorker(
    defineStreamWorker<{ key: string; seq: number }>({ stream: 'ticks', group: 'reporting', batch: { size: 50, maxWaitMs: 50 }, async handleBatch() {} }),
    { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix, memberId: 'reporting-1', heartbeatMs: 200, sessionTimeoutMs: 1_500 },
  );
  const context = { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix };
  try {
    await until('the member committed all 200 events', async () => {
      const rows = await groupStatus(context, ticks, 'reporting');
      return rows.every((row) => row.lag === 0 && row.committed !== null);
    }, 60_000);
  } finally {
    await member.stop();
  }
  await publishTicks(client, 60, 20, 200);
  status = await groupStatus(context, ticks, 'reporting');
  producer = await startProducer({
    plan,
    amqpUrls: [vhost.url],
    managementUrl: vhost.managementUrl,
    port: 0,
    apiTokens: 'adm-token:admin',
    streamTablePrefix: tables.prefix,
    logger: pino({ level: 'silent' }),
  });
}, 120_000);

afterAll(async () => {
  await producer?.close();
  await client?.close();
  await vhost?.cleanup();
  await tables?.drop();
});

/** The value of one sample of the Prometheus text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('stream lag', () => {
  it('the group lags by the 60 events published after its member left', () => {
    expect(status.reduce((sum, p) => sum + (p.lag ?? 0), 0)).toBe(60);
    expect(status.every((p) => p.committed !== null && p.end !== undefined)).toBe(true);
  });

  it("the producer's /metrics shows each partition's end, the group's committed offset and lag", async () => {
    const response = await get(producer.url, '/metrics');
    expect(response.status).toBe(200);
    const text = String(response.text);
    expect(sample(text, 'warren_stream_lag_poll_up')).toBe(1);
    for (const p of status) {
      const at = `stream="ticks",group="reporting",partition="${p.partition}"`;
      expect(sample(text, `warren_stream_end_offset{stream="ticks",partition="${p.partition}"}`)).toBe(p.end);
      expect(sample(text, `warren_stream_group_committed_offset{${at}}`)).toBe(p.committed);
      expect(sample(text, `warren_stream_group_lag{${at}}`)).toBe(p.lag);
    }
    // The tiny stream holds nothing: no end offset for it.
    expect(text).not.toContain('warren_stream_end_offset{stream="tiny"');
    // What `warren up` reads from the same text.
    const reading = parseStreamLag(text);
    expect(reading.ok && reading.groups.map((g) => [g.stream, g.group, g.lag])).toEqual([['ticks', 'reporting', 60]]);
  });

  it('warren doctor reports the lag, over the threshold as a warning, and the partitions with no live member', async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        'node',
        ['bin/warren.js', 'doctor', '--json', '--topology', GROUPS_TOPOLOGY, '--stream-table-prefix', tables.prefix, '--stream-lag-warn', '10'],
        { cwd: root, env: { ...process.env, AMQP_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl, DATABASE_URL: databaseUrl() }, timeout: 60_000 },
        (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      );
    });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as DoctorReport;
    const streams = report.findings.filter((f) => f.check.startsWith('stream-'));
    const worst = status.reduce((a, b) => ((b.lag ?? 0) > (a.lag ?? 0) ? b : a));
    expect(streams).toEqual(
      expect.arrayContaining([
        { severity: 'info', check: 'stream-partitions', message: 'stream ticks: 4 partition(s), each a stream queue' },
        { severity: 'info', check: 'stream-partitions', message: 'stream tiny: 1 partition(s), each a stream queue' },
        { severity: 'info', check: 'stream-groups', message: 'stream tiny: no consumer group has joined yet' },
        { severity: 'warning', check: 'stream-owners', message: 'group reporting on ticks: no live member; partition(s) 0, 1, 2, 3 are not consumed' },
        {
          severity: 'warning',
          check: 'stream-lag',
          message: `group reporting on ticks: lag 60 record(s) (worst: partition ${worst.partition}, ${worst.lag}), over the warning threshold of 10 per partition`,
        },
      ]),
    );
    expect(streams.filter((f) => f.severity === 'problem')).toEqual([]);
  });

  // Last: it leaves a retention loss in this vhost, which the test above must not see.
  it('warren doctor reports records retention removed before a group read them as a problem', async () => {
    const tiny = plan.streams?.find((s) => s.name === 'tiny');
    if (tiny === undefined) throw new Error('the fixture topology has no tiny stream');
    const publishTiny = async (from: number, n: number) => {
      for (let i = from; i < from + n; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, from + n - i) }, (_, j) =>
            client.publishEvent('tiny', { key: 'k', seq: i + j + 1, pad: 'x'.repeat(200) }, { idempotencyKey: `t-${i + j}` }),
          ),
        );
      }
    };
    await publishTiny(0, 20);
    const context = { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix };
    const member = await startStreamWorker(
      defineStreamWorker<{ key: string; seq: number }>({ stream: 'tiny', group: 'archive', batch: { size: 50, maxWaitMs: 50 }, async handleBatch() {} }),
      { plan, amqpUrls: [vhost.url], databaseUrl: databaseUrl(), tablePrefix: tables.prefix, memberId: 'archive-1', heartbeatMs: 200, sessionTimeoutMs: 1_500 },
    );
    try {
      await until('the member committed the 20 events', async () => (await groupStatus(context, tiny, 'archive')).every((row) => row.committed !== null && row.lag === 0), 30_000);
    } finally {
      await member.stop();
    }
    const committed = (await groupStatus(context, tiny, 'archive'))[0]?.committed ?? 0;
    // While the group is away, far more than the stream's 20 kB arrive: retention removes its old segments.
    await publishTiny(20, 600);
    const findings = async () => {
      const { facts } = await inspect({
        amqpUrls: [vhost.url],
        managementUrl: vhost.managementUrl,
        topologyFile: GROUPS_TOPOLOGY,
        workerTimeout: { ms: 30_000, source: 'test' },
        nodeStatsWaitMs: 0,
        databaseUrl: databaseUrl(),
        streamTablePrefix: tables.prefix,
      });
      return runChecks(facts).filter((f) => f.check === 'stream-retention');
    };
    // Retention runs asynchronously when a write rolls a segment.
    let lost: Awaited<ReturnType<typeof findings>> = [];
    await until('doctor sees the retention loss', async () => (lost = await findings()).length > 0, 30_000);
    expect(lost).toEqual([
      {
        severity: 'problem',
        check: 'stream-retention',
        message: expect.stringMatching(new RegExp(`^group archive on tiny, partition 0: committed offset ${committed} but the first retained record is \\d+: records ${committed + 1}–\\d+ were removed by retention before the group read them$`)),
      },
    ]);
  });
});
