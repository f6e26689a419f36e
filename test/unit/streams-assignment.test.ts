import { describe, expect, it } from 'vitest';
import { assignPartitions, rebalance, type Ownership } from '../../src/streams/assignment.ts';

const rows = (owners: (string | null)[], generation = 1): Ownership[] => owners.map((owner, partition) => ({ partition, owner, generation }));

describe('partition assignment', () => {
  it('spreads partitions over the sorted members, round-robin, whatever order they are listed in', () => {
    expect(assignPartitions(4, ['m-b', 'm-a', 'm-c'])).toEqual(['m-a', 'm-b', 'm-c', 'm-a']);
    expect(assignPartitions(4, ['m-c', 'm-a', 'm-b'])).toEqual(['m-a', 'm-b', 'm-c', 'm-a']);
    expect(assignPartitions(2, [])).toEqual([null, null]);
    expect(assignPartitions(2, ['x', 'x'])).toEqual(['x', 'x']);
  });

  it('changes only partitions whose owner changes, each with the next generation', () => {
    const current = rows(['a', 'b', 'c', 'a'], 3);
    expect(rebalance(current, ['a', 'b', 'c'])).toEqual([]);
    // c leaves: p2 → a, p3 → b (a: p0, p2; b: p1, p3).
    expect(rebalance(current, ['a', 'b'])).toEqual([
      { partition: 2, owner: 'a', generation: 4 },
      { partition: 3, owner: 'b', generation: 4 },
    ]);
    expect(rebalance(current, [])).toEqual(current.map((r) => ({ ...r, owner: null, generation: 4 })));
  });

  it('gives every partition exactly one owner after any sequence of joins and leaves', () => {
    let current = rows([null, null, null, null, null], 0);
    const sequences = [['a'], ['a', 'b'], ['b'], ['b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e', 'f'], ['f']];
    for (const members of sequences) {
      for (const change of rebalance(current, members)) current = current.map((r) => (r.partition === change.partition ? change : r));
      expect(current.map((r) => r.owner)).toEqual(assignPartitions(5, members));
      for (const row of current) expect(members).toContain(row.owner);
    }
  });
});
