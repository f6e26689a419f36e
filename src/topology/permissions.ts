import { bindingName, type TopologyPlan } from './plan.ts';

/**
 * Pure: which declarations of a plan a user's vhost permissions would make
 * RabbitMQ refuse (403 ACCESS_REFUSED), so `apply` can refuse before
 * declaring anything instead of stopping half-way. The rules, as checked on
 * RabbitMQ 3.10.8:
 *
 * - declaring an exchange or a queue needs `configure` on its name;
 * - a queue with `x-dead-letter-exchange` also needs `read` on the queue and
 *   `write` on that exchange (the default exchange `''` is `amq.default`);
 * - an exchange with `alternate-exchange` also needs `read` on the exchange
 *   and `write` on the alternate;
 * - binding needs `write` on the destination and `read` on the source.
 *
 * Permissions are regular expressions matched anywhere in the name
 * (unanchored), as RabbitMQ does.
 */

export interface VhostPermissions {
  configure: string;
  write: string;
  read: string;
}

export interface PermissionProblem {
  kind: 'vhost' | 'exchange' | 'queue' | 'binding';
  name: string;
  message: string;
}

type Access = keyof VhostPermissions;

/** `undefined` when a permission pattern is not a JavaScript regular expression (then nothing is claimed). */
export function permissionProblems(plan: TopologyPlan, permissions: VhostPermissions, user: string): PermissionProblem[] | undefined {
  const patterns = compile(permissions);
  if (patterns === undefined) return undefined;
  const problems: PermissionProblem[] = [];
  const need = (kind: 'exchange' | 'queue' | 'binding', object: string, access: Access, resourceType: 'exchange' | 'queue', resource: string) => {
    const name = resource === '' ? 'amq.default' : resource;
    if (patterns[access].test(name)) return;
    problems.push({
      kind,
      name: object,
      message: `user "${user}" has no ${access} permission on ${resourceType} "${name}" (its ${access} pattern is ${JSON.stringify(permissions[access])})`,
    });
  };
  for (const exchange of plan.exchanges) {
    need('exchange', exchange.name, 'configure', 'exchange', exchange.name);
    const alternate = exchange.arguments['alternate-exchange'];
    if (typeof alternate === 'string') {
      need('exchange', exchange.name, 'read', 'exchange', exchange.name);
      need('exchange', exchange.name, 'write', 'exchange', alternate);
    }
  }
  for (const queue of plan.queues) {
    need('queue', queue.name, 'configure', 'queue', queue.name);
    const dlx = queue.arguments['x-dead-letter-exchange'];
    if (typeof dlx === 'string') {
      need('queue', queue.name, 'read', 'queue', queue.name);
      need('queue', queue.name, 'write', 'exchange', dlx);
    }
  }
  for (const binding of plan.bindings) {
    const name = bindingName(binding);
    need('binding', name, 'write', binding.destinationType, binding.destination);
    need('binding', name, 'read', 'exchange', binding.source);
  }
  return problems;
}

function compile(permissions: VhostPermissions): Record<Access, RegExp> | undefined {
  // RabbitMQ reads an empty pattern as "^$" (no access), where JavaScript's matches everything.
  const pattern = (source: string) => new RegExp(source === '' ? '^$' : source);
  try {
    return { configure: pattern(permissions.configure), write: pattern(permissions.write), read: pattern(permissions.read) };
  } catch {
    return undefined;
  }
}
