import type { ApplyReport, PlanReport } from './apply.ts';
import type { Change } from './diff.ts';

/**
 * Pure: the human output of `warren topology plan|apply`. One line per
 * object, conflicts with each differing property (broker → file), then
 * warnings, what was not checked, and a one-line summary.
 */

const LABEL: Record<Change['action'], string> = { create: 'create', unchanged: 'unchanged', conflict: 'CONFLICT' };

export function formatPlanReport(report: PlanReport): string {
  const how = report.checkedWith === 'management' ? 'through the management API' : 'over AMQP (management API unreachable)';
  const lines = [`vhost "${report.vhost}", checked ${how}`];
  if (report.vhostExists === false) lines.push(`  the vhost does not exist yet: apply will create it`);
  lines.push(...report.changes.map(formatChange), ...trailer(report));
  lines.push(`Plan: ${summary(report.changes, 'to create')}.`);
  return `${lines.join('\n')}\n`;
}

export function formatApplyReport(report: ApplyReport): string {
  const lines = [`vhost "${report.vhost}"`];
  if (report.vhostCreated) lines.push(`  created the vhost and gave the AMQP user full permissions on it`);
  lines.push(...report.changes.filter((c) => c.action === 'create').map((c) => `  created    ${c.kind.padEnd(9)} ${c.name}`));
  lines.push(...trailer(report));
  lines.push(`Applied: ${summary(report.changes, 'created')}.`);
  return `${lines.join('\n')}\n`;
}

export function formatChange(change: Change): string {
  const head = `  ${LABEL[change.action].padEnd(10)} ${change.kind.padEnd(9)} ${change.name}`;
  if (change.action !== 'conflict') return head;
  const details = Object.entries(change.diff).map(
    ([property, d]) => `               ${property}: ${show(d.old)} on the broker, ${show(d.new)} in the file`,
  );
  return [head, ...details].join('\n');
}

function trailer(report: PlanReport): string[] {
  return [
    ...report.warnings.map((w) => `warning: ${w}`),
    ...report.notChecked.map((n, i) => (i === 0 ? `note: ${n}` : `  - ${n}`)),
  ];
}

function summary(changes: Change[], createdWord: string): string {
  const count = (action: Change['action']) => changes.filter((c) => c.action === action).length;
  const conflicts = count('conflict');
  return `${count('create')} ${createdWord}, ${count('unchanged')} unchanged, ${conflicts} conflict${conflicts === 1 ? '' : 's'}`;
}

function show(value: unknown): string {
  return value === null || value === undefined ? '(not set)' : JSON.stringify(value);
}
