import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/message/headers.ts';
import { createScenario, depth, DLQ, drain, peekIds, publishDeadLetters, runWarren, WORK_QUEUE, type DlqScenario } from './dlq-fixtures.ts';

// list and --dry-run leave the DLQ exactly as it was; wrong input touches nothing; purge.
describe('dlq list / dry-run / purge', () => {
  let s: DlqScenario;
  const jobs = Array.from({ length: 30 }, (_, i) => ({
    id: `job-${String(i).padStart(3, '0')}`,
    type: i % 3 === 0 ? 'created' : 'paid',
    errorClass: i % 3 === 0 ? 'TypeError' : 'PaymentDeclined',
    errorMessage: i % 3 === 0 ? 'cannot read sku' : 'card expired',
  }));

  beforeAll(async () => {
    s = await createScenario('dlq-inspect');
    await publishDeadLetters(s.channel, jobs);
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('list --json groups by job type and error and shows the first N with failure context', async () => {
    const result = await runWarren(['dlq', 'list', DLQ, '--limit', '5', '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(result.code, result.stderr).toBe(0);
    const listing = JSON.parse(result.stdout);
    expect(listing.queue).toBe(DLQ);
    expect(listing.count).toBe(30);
    expect(listing.groups).toEqual([
      { jobType: 'paid', error: { class: 'PaymentDeclined', message: 'card expired' }, count: 20 },
      { jobType: 'created', error: { class: 'TypeError', message: 'cannot read sku' }, count: 10 },
    ]);
    expect(listing.messages.map((m: { id: string }) => m.id)).toEqual(jobs.slice(0, 5).map((j) => j.id));
    expect(listing.messages[0]).toMatchObject({
      jobType: 'created',
      attempts: 2,
      error: { class: 'TypeError', message: 'cannot read sku' },
      origin: { exchange: 'shop', routingKey: 'order.created' },
      payloadPreview: '{"id":"job-000","n":"job-000"}',
    });
    expect(Date.parse(listing.messages[0].firstFailedAt)).not.toBeNaN();
  });

  it('list and replay --dry-run change nothing: same depth, same ids in the same order', async () => {
    const before = await peekIds(s.connection, DLQ);
    expect(before).toEqual(jobs.map((j) => j.id));
    const list = await runWarren(['dlq', 'list', DLQ], s.vhost.url);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('billing.dlq: 30 messages');
    const dry = await runWarren(['dlq', 'replay', DLQ, '--filter', 'jobType=paid', '--dry-run', '--json', '--topology', s.topologyFile], s.vhost.url);
    expect(dry.code, dry.stderr).toBe(0);
    const summary = JSON.parse(dry.stdout);
    expect(summary).toMatchObject({ dryRun: true, replayed: 20, skipped: 10, failed: 0, target: { exchange: '', routingKey: WORK_QUEUE } });
    expect(summary.wouldReplay).toHaveLength(20);
    expect(summary.wouldReplay[0]).toEqual({ id: 'job-001', jobType: 'paid' });
    expect(summary).toMatchObject({ listOffset: 0, listLimit: 20 });
    const page = JSON.parse((await runWarren(['dlq', 'replay', DLQ, '--filter', 'jobType=paid', '--dry-run', '--json', '--topology', s.topologyFile, '--list-offset', '15', '--list-limit', '3'], s.vhost.url)).stdout);
    expect(page).toMatchObject({ replayed: 20, listOffset: 15, listLimit: 3, nextListOffset: 18 });
    expect(page.wouldReplay.map((m: { id: string }) => m.id)).toEqual(jobs.filter((j) => j.type === 'paid').slice(15, 18).map((j) => j.id));
    expect(await depth(s.connection, DLQ)).toBe(30);
    expect(await depth(s.connection, WORK_QUEUE)).toBe(0);
    expect(await peekIds(s.connection, DLQ)).toEqual(before);
  });

  it('refuses bad filters, unknown queues and non-DLQs with exit 1, touching nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['dlq', 'replay', DLQ, '--filter', 'jobType'], /bad filter "jobType"/],
      [['dlq', 'replay', DLQ, '--filter', 'colour=red'], /unknown key "colour"/],
      [['dlq', 'replay', DLQ, '--filter', 'error~=('], /invalid regular expression/],
      [['dlq', 'replay', DLQ, '--since', 'yesterday'], /bad --since/],
      [['dlq', 'replay', DLQ, '--rate', 'fast'], /bad --rate/],
      [['dlq', 'replay', 'ghost.dlq', '--to', 'x', '--force'], /queue "ghost.dlq" does not exist/],
      [['dlq', 'list', DLQ, '--limit', '101'], /bad --limit "101": expected a whole number from 0 to 100/],
      [['dlq', 'replay', WORK_QUEUE, '--topology', s.topologyFile], /not a dead-letter queue of the topology \(its DLQs: billing.dlq\)/],
      [['dlq', 'purge', WORK_QUEUE, '--yes'], /not a dead-letter queue/],
      [['dlq', 'replay', DLQ, '--to', 'nowhere', '--force'], /queue "nowhere" does not exist/],
      [['dlq', 'replay', DLQ, '--to', 'nowhere', '--topology', s.topologyFile], /"nowhere" is not a queue of the topology/],
    ];
    // A few at a time: a dozen CLI processes at once on a busy 2-core machine run past their timeout.
    const results: Awaited<ReturnType<typeof runWarren>>[] = [];
    for (let i = 0; i < cases.length; i += 3) {
      results.push(...(await Promise.all(cases.slice(i, i + 3).map(([args]) => runWarren(args, s.vhost.url, { timeoutMs: 120_000 })))));
    }
    results.forEach((result, index) => {
      const [args, message] = cases[index] ?? [[], /$^/];
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
    });
    expect(await peekIds(s.connection, DLQ)).toEqual(jobs.map((j) => j.id));
    expect(await depth(s.connection, WORK_QUEUE)).toBe(0);
  }, 400_000);

  it('purge refuses without --yes off a terminal; a filtered purge deletes only the matches, the rest keep their order', async () => {
    const refused = await runWarren(['dlq', 'purge', DLQ], s.vhost.url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing to delete without --yes/);
    expect(await depth(s.connection, DLQ)).toBe(30);

    const purged = await runWarren(['dlq', 'purge', DLQ, '--filter', 'error=expired', '--yes', '--json'], s.vhost.url);
    expect(purged.code, purged.stderr).toBe(0);
    expect(JSON.parse(purged.stdout)).toEqual({ queue: DLQ, dryRun: false, purged: 20, kept: 10 });
    const left = await drain(s.connection, DLQ);
    expect(left.map((m) => m.id)).toEqual(jobs.filter((j) => j.type === 'created').map((j) => j.id));
    expect(left.every((m) => m.headers[HEADERS.errorClass] === 'TypeError')).toBe(true);

    await publishDeadLetters(s.channel, jobs.slice(0, 3));
    const all = await runWarren(['dlq', 'purge', DLQ, '--yes'], s.vhost.url);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('purged 3');
    expect(await depth(s.connection, DLQ)).toBe(0);
  });
});
