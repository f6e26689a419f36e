/**
 * Group commit for the PostgreSQL store, the decisions only: which group a
 * new claim joins, when a group stops taking members, when a running job is
 * slow enough that the jobs queued behind it should go elsewhere. Pure (no
 * I/O, no clock of its own) so it is tested without a database.
 *
 * A group is one transaction on one pooled connection. Its jobs run one after
 * the other (PostgreSQL savepoints are a stack: two jobs interleaving on one
 * connection would roll back each other's work), so the parallelism comes
 * from several groups at once, and the economy from one COMMIT for all the
 * jobs of a group.
 */

export interface CommitGroupLimits {
  /** Jobs a group takes at most (PostgreSQL keeps 64 subtransactions per backend in shared memory; more slows every snapshot). */
  readonly maxJobs: number;
  /** A group takes new jobs for this long after it opened, and a job running this long is slow. */
  readonly maxWaitMs: number;
  /** Groups at once: each holds a pool connection. */
  readonly maxGroups: number;
  /**
   * A new job opens a group (while there are connections to spare) rather
   * than queue behind this many jobs waiting in the least busy group: below
   * it the job waits one short turn and shares a COMMIT, at it another
   * connection is worth its own COMMIT.
   */
  readonly queueBeforeNewGroup: number;
}

/** What the policy needs to know of one group. */
export interface GroupView {
  /** When the group was opened (ms, any monotonic clock). */
  readonly openedAt: number;
  /** Jobs it ever took, whatever became of them. */
  readonly jobs: number;
  /** Jobs waiting for their turn (not started yet, so free to move). */
  readonly queued: number;
  /** When the job now running started, if one is. */
  readonly runningSince: number | undefined;
  /** Committing, committed, lost, or closed by an earlier decision. */
  readonly closed: boolean;
}

/** Whether `group` takes another job now. */
export function accepts(group: GroupView, limits: CommitGroupLimits, now: number): boolean {
  return !group.closed && group.jobs < limits.maxJobs && now - group.openedAt < limits.maxWaitMs && !isSlow(group, limits, now);
}

/**
 * A running job past `maxWaitMs`: its group stops taking jobs, and those
 * queued behind it move to another group, so a slow handler holds up only the
 * jobs that already finished in its group (they wait for its COMMIT).
 */
export function isSlow(group: GroupView, limits: CommitGroupLimits, now: number): boolean {
  return group.runningSince !== undefined && now - group.runningSince >= limits.maxWaitMs;
}

/**
 * Where a new job goes: the index of the group to join, or 'new'. It joins
 * the accepting group with the shortest queue, unless that queue is already
 * `queueBeforeNewGroup` long and a connection is to spare. With no accepting
 * group it opens one even past `maxGroups` (it then waits for a connection).
 */
export function place(groups: readonly GroupView[], limits: CommitGroupLimits, now: number): number | 'new' {
  let best = -1;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] as GroupView;
    if (!accepts(group, limits, now)) continue;
    if (best < 0 || group.queued < (groups[best] as GroupView).queued) best = i;
  }
  if (best < 0) return 'new';
  if ((groups[best] as GroupView).queued < limits.queueBeforeNewGroup) return best;
  return groups.length < limits.maxGroups ? 'new' : best;
}

/** A group commits as soon as nothing runs and nothing waits in it: every job it took has settled. */
export function readyToCommit(group: GroupView): boolean {
  return group.runningSince === undefined && group.queued === 0;
}
