import { describe, expect, it } from 'vitest';
import { runStreamsChaos } from '../chaos/lib/streams-scenario.ts';

describe('a stream consumer group under fire (CI size; `npm run chaos -- --streams` runs 100,000)', () => {
  it('10,000 events, 4 partitions, 1,000 keys, 3 members, one SIGKILLed and one SIGTERMed mid-run: each applied once, in key order', async () => {
    const report = await runStreamsChaos({ events: 10_000, keys: 1_000 });
    expect(report).toMatchObject({ rows: 10_000, distinct: 10_000, outOfOrderKeys: 0, sharedGenerations: 0 });
    // The kills happened mid-run, and the restarted members took part.
    expect(report.killedAt).toBeLessThan(10_000);
    expect(report.terminatedAt).toBeLessThan(10_000);
    expect(report.members).toEqual(expect.arrayContaining(['m3']));
    expect(report.members.some((m) => m.endsWith('-restarted'))).toBe(true);
  }, 300_000);
});
