import type { JobHistory } from './timeline.ts';

/**
 * Pure: a job's history as `warren job <id>` prints it — the acceptance,
 * then per consumer its state and each attempt in order, then the DLQ
 * events. Times are ISO (UTC) so lines from several hosts compare.
 */
export function formatJobHistory(job: JobHistory): string {
  const lines: string[] = [];
  lines.push(`job ${job.id}${job.jobType === null ? '' : ` (${job.jobType})`}`);
  const facts = [
    job.acceptedAt === null ? 'accepted: not recorded (published without history)' : `accepted ${job.acceptedAt}`,
    ...(job.payloadSize === null ? [] : [`${job.payloadSize} bytes`]),
    ...(job.correlationId === null ? [] : [`correlation ${job.correlationId}`]),
    `trace ${job.traceId ?? '-'}`,
  ];
  lines.push(`  ${facts.join('  ')}`);
  if (job.consumers.length === 0) lines.push('  no attempt recorded yet');
  const width = Math.max(8, ...job.consumers.map((c) => c.consumer.length));
  for (const consumer of job.consumers) {
    lines.push(`  ${consumer.consumer.padEnd(width)}  ${consumer.state}`);
    for (const a of consumer.attempts) {
      const error = a.error === null ? '' : `  ${a.error.class}: ${oneLine(a.error.message)}`;
      const reason = a.deadLetterReason === undefined ? '' : ` (${a.deadLetterReason})`;
      lines.push(`    #${a.attempt}  ${a.startedAt} → ${a.finishedAt}  ${(a.outcome + reason).padEnd(16)}  ${a.workerId}${error}`);
    }
  }
  if (job.events.length > 0) {
    lines.push('  events');
    for (const e of job.events) lines.push(`    ${e.at}  ${e.kind} (${e.queue}${e.consumer === null ? '' : `, consumer ${e.consumer}`})`);
  }
  return lines.join('\n');
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
