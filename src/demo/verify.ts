import type { ConsumerCounters } from '../up/metrics-text.ts';

/**
 * Pure: the demo's own checks. For each consumer that ran: processed ==
 * jobs routed to it − jobs in its DLQ; its DLQ holds exactly the poison jobs
 * expected there; its work queues and retry tiers are empty and nothing is
 * in flight. Plus: every order was accepted, and the flaky slice was retried.
 */
export interface ConsumerOutcome {
  consumer: string;
  ran: boolean;
  /** Jobs routed to it (from the accepted jobs and the topology's bindings). */
  routed: number;
  counters: ConsumerCounters;
  /** Ready messages left in its work queue(s) and retry tiers. */
  left: number;
  /** Job ids in its DLQ. */
  dlqIds: readonly string[];
  /** Job ids that must be in its DLQ (the poison ones routed to it). */
  expectedDlqIds: readonly string[];
}

export interface DemoFacts {
  sent: number;
  accepted: number;
  refused: readonly string[];
  flaky: { consumer: string; count: number };
  consumers: readonly ConsumerOutcome[];
  drained: boolean;
}

export function checkDemo(facts: DemoFacts): string[] {
  const problems: string[] = [];
  if (facts.accepted !== facts.sent) problems.push(`${facts.sent - facts.accepted} of ${facts.sent} jobs were not accepted: ${facts.refused.slice(0, 3).join('; ')}`);
  if (!facts.drained) problems.push('the queues did not drain before the timeout');
  for (const outcome of facts.consumers.filter((c) => c.ran)) problems.push(...checkConsumer(outcome));
  const flaky = facts.consumers.find((c) => c.consumer === facts.flaky.consumer);
  if (flaky?.ran && flaky.counters.retried < facts.flaky.count) {
    problems.push(`${flaky.consumer}: ${facts.flaky.count} jobs should have failed once and been retried, but only ${flaky.counters.retried} retries were counted`);
  }
  return problems;
}

function checkConsumer(outcome: ConsumerOutcome): string[] {
  const problems: string[] = [];
  const name = outcome.consumer;
  const wantProcessed = outcome.routed - outcome.dlqIds.length;
  if (outcome.counters.succeeded !== wantProcessed) {
    problems.push(`${name}: processed ${outcome.counters.succeeded}, expected ${wantProcessed} (${outcome.routed} routed − ${outcome.dlqIds.length} in its DLQ)`);
  }
  const expected = new Set(outcome.expectedDlqIds);
  const unexpected = outcome.dlqIds.filter((id) => !expected.has(id));
  const actual = new Set(outcome.dlqIds);
  const missing = outcome.expectedDlqIds.filter((id) => !actual.has(id));
  if (unexpected.length > 0) problems.push(`${name}: ${unexpected.length} job(s) in its DLQ that are not poison, e.g. ${unexpected[0]}`);
  if (missing.length > 0) problems.push(`${name}: ${missing.length} poison job(s) missing from its DLQ, e.g. ${missing[0]}`);
  if (outcome.left > 0) problems.push(`${name}: ${outcome.left} message(s) left in its work queue(s) or retry tiers`);
  if (outcome.counters.inFlight > 0) problems.push(`${name}: ${outcome.counters.inFlight} job(s) still in flight`);
  return problems;
}
