import type { Finding } from './checks.ts';
import type { BrokerFacts } from './facts.ts';

/** What `warren doctor --json` prints. */
export interface DoctorReport {
  /** False when any finding is a problem. */
  ok: boolean;
  /** AMQP URL checked (the first node of AMQP_URL that answered), password redacted. */
  broker: string;
  vhost: string;
  rabbitmqVersion: string;
  erlangVersion: string;
  nodes: Array<{ name: string; running: boolean; plugins: Record<string, string>; consumerTimeoutMs: number | null | undefined; partitions: string[] }>;
  findings: Finding[];
}

export function buildReport(facts: BrokerFacts, findings: Finding[], broker: string): DoctorReport {
  return {
    ok: !findings.some((f) => f.severity === 'problem'),
    broker,
    vhost: facts.vhost,
    rabbitmqVersion: facts.rabbitmqVersion,
    erlangVersion: facts.erlangVersion,
    nodes: facts.nodes.map((node) => ({
      name: node.name,
      running: node.running,
      plugins: node.pluginVersions,
      consumerTimeoutMs: node.consumerTimeoutMs,
      partitions: node.partitions,
    })),
    findings,
  };
}

const LABEL: Record<Finding['severity'], string> = { problem: 'PROBLEM', warning: 'warning', info: 'info   ' };

/** Problems first, then warnings, then context; one line each. */
export function formatReport(report: DoctorReport): string {
  const order: Finding['severity'][] = ['problem', 'warning', 'info'];
  const sorted = [...report.findings].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
  const count = (severity: Finding['severity']) => report.findings.filter((f) => f.severity === severity).length;
  const problems = count('problem');
  const warnings = count('warning');
  return [
    `warren doctor: ${report.broker} (vhost ${report.vhost})`,
    ...sorted.map((finding) => `  ${LABEL[finding.severity]}  ${finding.message}`),
    problems === 0
      ? `no problems found${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`
      : `${problems} problem${problems === 1 ? '' : 's'} found, ${warnings} warning${warnings === 1 ? '' : 's'}`,
    '',
  ].join('\n');
}
