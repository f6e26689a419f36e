import { encodeVhost, ManagementClient } from '../broker/management.ts';
import { redactText, redactUrl, withVhost } from '../broker/urls.ts';
import { targetVhost } from '../broker/vhost.ts';
import { BrokerUnavailableError, ConflictError, WarrenError } from '../errors.ts';
import { declarePlanAt } from './declare.ts';
import { diffTopology, hasConflicts, type Change } from './diff.ts';
import { inspectVhost, vhostExists } from './inspect.ts';
import { bindingName, type TopologyPlan } from './plan.ts';
import { permissionProblems, type PermissionProblem, type VhostPermissions } from './permissions.ts';
import { PROBE_LIMITS, probeOverAmqp } from './probe.ts';

/**
 * `plan` and `apply` against a live broker. The management API tells us
 * everything (arguments, bindings, other shard queues); without it we fall
 * back to asking over AMQP (see probe.ts) and say what that cannot check.
 */

export interface BrokerTarget {
  /** One URL, or the nodes of a cluster (tried in turn). Its path is the default vhost. */
  amqpUrls: string[];
  managementUrl: string;
}

export interface PlanReport {
  vhost: string;
  /** `undefined` when it could not be checked (management API unreachable). */
  vhostExists: boolean | undefined;
  checkedWith: 'management' | 'amqp';
  changes: Change[];
  warnings: string[];
  /** What this report could not check, in words. Empty with the management API. */
  notChecked: string[];
}

export interface ApplyReport extends PlanReport {
  vhostCreated: boolean;
}

export interface ApplyOptions {
  /**
   * Without the management API, apply refuses (it could not see every
   * conflict). With this set it checks over AMQP instead and declares only
   * if no redeclare failed.
   */
  forceDeclare?: boolean;
}

/** Apply refused: the plan conflicts with the broker. Nothing was declared. */
export class PlanConflictError extends ConflictError {
  constructor(readonly report: PlanReport) {
    super(
      report.changes
        .filter((c) => c.action === 'conflict')
        .flatMap((c) =>
          Object.entries(c.diff).map(([argument, d]) => ({ kind: c.kind, name: c.name, argument, current: d.old, desired: d.new })),
        ),
    );
  }
}

/** Apply refused: the AMQP user's permissions would make the broker refuse part of the plan. Nothing was declared. */
export class PermissionRefusedError extends WarrenError {
  constructor(
    readonly user: string,
    readonly problems: PermissionProblem[],
  ) {
    super(
      'TOPOLOGY_FORBIDDEN',
      `apply refused: the broker would refuse ${problems.length} declaration${problems.length === 1 ? '' : 's'} for user "${user}" ` +
        `(nothing was declared):\n${problems.map((p) => `  ${p.kind} ${p.name}: ${p.message}`).join('\n')}`,
    );
  }
}

export { targetVhost } from '../broker/vhost.ts';

export async function planTopology(plan: TopologyPlan, target: BrokerTarget): Promise<PlanReport> {
  const vhost = targetVhost(plan, target.amqpUrls);
  const management = new ManagementClient(target.managementUrl);
  if (await management.isReachable()) {
    const live = await inspectVhost(management, vhost);
    const diff = diffTopology(plan, live);
    return { vhost, vhostExists: live.vhostExists, checkedWith: 'management', ...diff, notChecked: [] };
  }
  const changes = await withFirstNode(target.amqpUrls, vhost, (url) => probeOverAmqp(url, plan));
  return {
    vhost,
    vhostExists: true,
    checkedWith: 'amqp',
    changes,
    warnings: [],
    notChecked: [`the management API at ${management.displayUrl} did not answer, so this was checked over AMQP; not checked:`, ...PROBE_LIMITS],
  };
}

export async function applyTopology(plan: TopologyPlan, target: BrokerTarget, options: ApplyOptions = {}): Promise<ApplyReport> {
  const vhost = targetVhost(plan, target.amqpUrls);
  const management = new ManagementClient(target.managementUrl);
  const reachable = await management.isReachable();
  if (!reachable && !options.forceDeclare) {
    throw new BrokerUnavailableError(
      `the management API at ${management.displayUrl} is unreachable, so apply cannot see every conflict and ` +
        'declared nothing; fix RABBITMQ_MANAGEMENT_URL, or pass --force-declare to check by redeclaring over AMQP ' +
        `(not checked that way: ${PROBE_LIMITS.join('; ')})`,
    );
  }
  // Everything that could make the broker refuse part of the plan is checked
  // before the first declaration: the file (validated when loaded), every
  // conflict, and the user's permissions. Only then is the vhost created.
  const report = await planTopology(plan, target);
  if (hasConflicts(report)) throw new PlanConflictError(report);
  const missing = creates(plan, report.changes);
  const user = amqpUser(target.amqpUrls[0]);
  if (reachable && report.vhostExists === true) await checkPermissions(management, vhost, user, missing);
  const vhostCreated = reachable && report.vhostExists === false ? await ensureVhost(management, vhost, user) : false;
  await withFirstNode(target.amqpUrls, vhost, (url) => declarePlanAt(url, missing));
  return { ...report, vhostExists: true, vhostCreated };
}

/**
 * Refuses, before anything is declared, when the user's permissions on the
 * vhost would make RabbitMQ refuse one of the declarations. Skipped when the
 * management API will not show them (only administrators may read them).
 */
async function checkPermissions(management: ManagementClient, vhost: string, user: string, plan: TopologyPlan): Promise<void> {
  let permissions: VhostPermissions | undefined;
  try {
    permissions = await management.get<VhostPermissions>(`/permissions/${encodeVhost(vhost)}/${encodeURIComponent(user)}`);
  } catch {
    return;
  }
  if (permissions === undefined) {
    throw new PermissionRefusedError(user, [
      { kind: 'vhost', name: vhost, message: `user "${user}" has no permissions on vhost "${vhost}" (grant them, e.g. rabbitmqctl set_permissions)` },
    ]);
  }
  const problems = permissionProblems(plan, permissions, user);
  if (problems !== undefined && problems.length > 0) throw new PermissionRefusedError(user, problems);
}

function amqpUser(amqpUrl: string | undefined): string {
  return decodeURIComponent(new URL(amqpUrl ?? 'amqp://guest@localhost').username || 'guest');
}

/** Creates the vhost when missing and lets the AMQP user in; true if it was created. */
async function ensureVhost(management: ManagementClient, vhost: string, user: string): Promise<boolean> {
  if (await vhostExists(management, vhost)) return false;
  await management.put(`/vhosts/${encodeVhost(vhost)}`, {});
  await management.put(`/permissions/${encodeVhost(vhost)}/${encodeURIComponent(user)}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  return true;
}

/** The sub-plan of objects reported as `create`, in the plan's order. */
function creates(plan: TopologyPlan, changes: Change[]): TopologyPlan {
  const toCreate = new Set(changes.filter((c) => c.action === 'create').map((c) => `${c.kind}\u0000${c.name}`));
  return {
    ...plan,
    exchanges: plan.exchanges.filter((e) => toCreate.has(`exchange\u0000${e.name}`)),
    queues: plan.queues.filter((q) => toCreate.has(`queue\u0000${q.name}`)),
    bindings: plan.bindings.filter((b) => toCreate.has(`binding\u0000${bindingName(b)}`)),
  };
}

/** Runs `task` against the first node that accepts a connection to `vhost`. */
async function withFirstNode<T>(urls: string[], vhost: string, task: (url: string) => Promise<T>): Promise<T> {
  const failures: string[] = [];
  for (const url of urls) {
    try {
      return await task(withVhost(url, vhost));
    } catch (error) {
      if (!isConnectFailure(error)) throw error;
      failures.push(`${redactUrl(withVhost(url, vhost))}: ${redactText((error as Error).message)}`);
    }
  }
  throw new BrokerUnavailableError(`cannot reach the broker (${failures.join('; ')})`);
}

function isConnectFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code);
  // 530 NOT_ALLOWED (no such vhost / no access) and 403 happen at connection open.
  const message = error instanceof Error ? error.message : '';
  return /ACCESS_REFUSED|NOT_ALLOWED|Handshake terminated|Socket closed/i.test(message);
}
