/**
 * Pure: which live member of a group owns each partition. Deterministic
 * (every member computes the same answer from the same rows): members
 * sorted by id, partition i → members[i mod M]. A partition keeps its
 * generation while its owner stays; a new owner gets generation + 1, which
 * is what fences the previous owner's commits.
 */

export interface Ownership {
  partition: number;
  owner: string | null;
  generation: number;
}

export function assignPartitions(partitions: number, liveMembers: readonly string[]): (string | null)[] {
  const members = [...new Set(liveMembers)].sort();
  return Array.from({ length: partitions }, (_, index) => (members.length === 0 ? null : (members[index % members.length] ?? null)));
}

/** The rows that must change for `current` to match the assignment over `liveMembers`. */
export function rebalance(current: readonly Ownership[], liveMembers: readonly string[]): Ownership[] {
  const ordered = [...current].sort((a, b) => a.partition - b.partition);
  const wanted = assignPartitions(ordered.length, liveMembers);
  return ordered.flatMap((row, index) => {
    const owner = wanted[index] ?? null;
    return row.owner === owner ? [] : [{ partition: row.partition, owner, generation: row.generation + 1 }];
  });
}

/**
 * A partition's row of a group as the store reads it: its ownership and the
 * group's committed offset. Here, beside `Ownership`, and not in the store:
 * the admin and metrics code that reads it must not pull the PostgreSQL
 * client's types into warren's published declarations.
 */
export interface PartitionState extends Ownership {
  committed: number | null;
  updatedAt: Date | null;
}
