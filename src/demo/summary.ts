import type { DemoFacts } from './verify.ts';

/** Pure: the summary the demo prints at the end, and the replay command. */
export interface SummaryContext {
  orders: number;
  cancelled: number;
  poison: number;
  drainSeconds: number;
  topologyFile: string;
  /** Redacted AMQP URL of the demo vhost. */
  amqpUrl: string;
  kept: boolean;
  skipped: ReadonlyArray<{ consumer: string; reason: string }>;
}

export function renderSummary(facts: DemoFacts, context: SummaryContext, problems: readonly string[]): string {
  const rows = facts.consumers.map((c) => [
    c.consumer,
    c.ran ? String(c.routed) : '-',
    c.ran ? String(c.counters.succeeded) : 'skipped',
    c.ran ? String(c.counters.retried) : '-',
    c.ran ? String(c.dlqIds.length) : '-',
    c.ran ? String(c.left) : '-',
  ]);
  const header = ['CONSUMER', 'ROUTED', 'PROCESSED', 'RETRIED', 'IN DLQ', 'LEFT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const dlqs = facts.consumers.filter((c) => c.dlqIds.length > 0);
  const lines = [
    '',
    `accepted: ${facts.accepted} of ${facts.sent} jobs (${context.orders} order.created, ${context.cancelled} order.cancelled; ${context.poison} poison, ${facts.flaky.count} failing once in ${facts.flaky.consumer})`,
    `drained in ${context.drainSeconds.toFixed(1)} s`,
    '',
    line(header),
    ...rows.map(line),
    '',
  ];
  for (const skip of context.skipped) lines.push(`!! ${skip.consumer} did not run: ${skip.reason}`);
  if (problems.length === 0) {
    lines.push(`OK: every accepted job was processed by every consumer it was routed to; the ${facts.consumers.reduce((n, c) => n + c.dlqIds.length, 0)} poison job(s) are in the DLQ; nothing else is left.`);
  } else {
    lines.push(`FAILED: ${problems.length} check(s):`, ...problems.map((p) => `  - ${p}`));
  }
  for (const consumer of dlqs) {
    const queue = `${consumer.consumer}.dlq`;
    lines.push(
      '',
      `Inspect and replay ${queue} (after fixing the cause; ${context.kept ? 'the demo vhost was kept' : 'run the demo with --keep to keep its vhost'}):`,
      `  AMQP_URL=${context.amqpUrl} npx warren dlq list ${queue} --topology ${context.topologyFile}`,
      `  AMQP_URL=${context.amqpUrl} npx warren dlq replay ${queue} --topology ${context.topologyFile}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
