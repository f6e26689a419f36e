import type pg from 'pg';
import { HEADERS } from '../../../src/message/headers.ts';
import type { Outcome } from './client.ts';
import { ALL_CONSUMERS, CONSUMERS_OF } from './names.ts';

/** A dead-lettered message as read back from `<consumer>.dlq`. */
export interface DeadLetter {
  consumer: string;
  jobId: string;
  reason: string | undefined;
  error: string | undefined;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

interface EffectCount {
  consumer: string;
  job_id: string;
  n: number;
}

/** Expected (consumer, job id) effects of the accepted, non-poison jobs. */
export function expectedEffects(outcomes: Iterable<Outcome>): Set<string> {
  const expected = new Set<string>();
  for (const o of outcomes) {
    if (!o.accepted || o.job.kind !== 'valid') continue;
    for (const consumer of CONSUMERS_OF[o.job.jobType]) expected.add(`${consumer} ${o.job.key}`);
  }
  return expected;
}

export function expectedDeadLetters(outcomes: Iterable<Outcome>): number {
  let count = 0;
  for (const o of outcomes) if (o.accepted && o.job.kind === 'poison') count += CONSUMERS_OF[o.job.jobType].length;
  return count;
}

export async function effectCounts(db: pg.Pool, table: string): Promise<EffectCount[]> {
  const result = await db.query<{ consumer: string; job_id: string; n: string }>(`SELECT consumer, job_id, count(*) AS n FROM ${table} GROUP BY consumer, job_id`);
  return result.rows.map((r) => ({ consumer: r.consumer, job_id: r.job_id, n: Number(r.n) }));
}

export async function verifyRun(input: {
  posted: number;
  outcomes: Map<string, Outcome>;
  db: pg.Pool;
  effectsTable: string;
  deadLetters: readonly DeadLetter[];
}): Promise<{ checks: Check[]; figures: Record<string, number> }> {
  const outcomes = [...input.outcomes.values()];
  const counts = await effectCounts(input.db, input.effectsTable);
  const byKey = new Map(counts.map((c) => [`${c.consumer} ${c.job_id}`, c.n]));
  const expected = expectedEffects(outcomes);
  const missing = [...expected].filter((key) => !byKey.has(key));
  const doubled = counts.filter((c) => c.n > 1);
  const kindOf = new Map(outcomes.map((o) => [o.job.key, o.job.kind]));
  const unexpected = counts.filter((c) => kindOf.get(c.job_id) !== 'valid');
  const refusedValid = outcomes.filter((o) => !o.accepted && o.job.kind === 'valid');
  const refusedButApplied = refusedValid.filter((o) => ALL_CONSUMERS.some((c) => byKey.has(`${c} ${o.job.key}`)));
  const malformed = outcomes.filter((o) => o.job.kind === 'malformed');
  const acceptedPoison = outcomes.filter((o) => o.accepted && o.job.kind === 'poison');
  const poisonIds = new Set(outcomes.filter((o) => o.job.kind === 'poison').map((o) => o.job.key));
  const dlqDistinct = new Set(input.deadLetters.map((d) => `${d.consumer} ${d.jobId}`));
  const wantedDlq = acceptedPoison.flatMap((o) => CONSUMERS_OF[o.job.jobType].map((c) => `${c} ${o.job.key}`));
  const dlqMissing = wantedDlq.filter((key) => !dlqDistinct.has(key));
  const dlqStrangers = input.deadLetters.filter((d) => !poisonIds.has(d.jobId));
  const dlqNoReason = input.deadLetters.filter((d) => d.reason !== 'non-retryable' || !d.error?.includes('poison'));
  const order = await orderViolations(input.db, input.effectsTable);
  const sample = (items: readonly unknown[]) => (items.length === 0 ? '' : ` e.g. ${JSON.stringify(items.slice(0, 3))}`);

  const checks: Check[] = [
    { name: 'every posted job has a known outcome', ok: input.outcomes.size === input.posted, detail: `${input.outcomes.size} of ${input.posted}` },
    { name: 'no loss: every 202 job applied by each of its consumers', ok: missing.length === 0, detail: `${expected.size - missing.length} of ${expected.size} effects${sample(missing)}` },
    { name: 'no double effect', ok: doubled.length === 0, detail: `${doubled.length} (consumer, job) pairs with >1 row${sample(doubled)}` },
    { name: 'no effect for malformed or poison jobs', ok: unexpected.length === 0, detail: `${unexpected.length}${sample(unexpected)}` },
    { name: 'malformed orders refused with 4xx', ok: malformed.every((o) => o.status >= 400 && o.status < 500), detail: `${malformed.length} malformed, statuses ${[...new Set(malformed.map((o) => o.status))].join(',')}` },
    { name: 'poison orders all in the DLQs', ok: dlqMissing.length === 0, detail: `${wantedDlq.length - dlqMissing.length} of ${wantedDlq.length}${sample(dlqMissing)}` },
    { name: 'nothing else in the DLQs', ok: dlqStrangers.length === 0, detail: `${dlqStrangers.length} others${sample(dlqStrangers)}` },
    { name: 'dead letters carry their reason', ok: dlqNoReason.length === 0, detail: `${input.deadLetters.length - dlqNoReason.length} of ${input.deadLetters.length}${sample(dlqNoReason)}` },
    { name: 'payments: per-order order held', ok: order.violations === 0, detail: `${order.pairs} created+cancelled pairs, ${order.violations} out of order` },
  ];
  const figures = {
    posted: input.posted,
    accepted: outcomes.filter((o) => o.accepted).length,
    refused: outcomes.filter((o) => !o.accepted).length,
    refusedValid: refusedValid.length,
    refusedButApplied: refusedButApplied.length,
    malformed: malformed.length,
    poisonAccepted: acceptedPoison.length,
    effectsExpected: expected.size,
    effectRows: counts.reduce((sum, c) => sum + c.n, 0),
    deadLetters: input.deadLetters.length,
    deadLetterCopies: input.deadLetters.length - dlqDistinct.size,
    orderedPairs: order.pairs,
  };
  return { checks, figures };
}

async function orderViolations(db: pg.Pool, table: string): Promise<{ pairs: number; violations: number }> {
  const result = await db.query<{ pairs: string; violations: string }>(
    `SELECT count(*) AS pairs, count(*) FILTER (WHERE x.applied < c.applied OR x.out_of_order) AS violations
       FROM ${table} c JOIN ${table} x ON x.order_id = c.order_id
      WHERE c.consumer = 'payments' AND x.consumer = 'payments' AND c.event = 'order.created' AND x.event = 'order.cancelled'`,
  );
  return { pairs: Number(result.rows[0]?.pairs), violations: Number(result.rows[0]?.violations) };
}

export function deadLetterOf(consumer: string, messageId: unknown, headers: Record<string, unknown> | undefined): DeadLetter {
  const text = (value: unknown) => (value === undefined ? undefined : Buffer.isBuffer(value) ? value.toString() : String(value));
  return { consumer, jobId: String(messageId), reason: text(headers?.[HEADERS.reason]), error: text(headers?.[HEADERS.errorMessage]) };
}

/** Every work queue has a consumer again, as the management API shows it (`undefined`: the queue is not listed). */
export function subscribedAgainCheck(counts: ReadonlyMap<string, number | undefined>): Check {
  const missing = [...counts].filter(([, n]) => n === undefined || n < 1).map(([queue, n]) => `${queue}: ${n ?? 'not listed'}`);
  return {
    name: 'every consumer subscribed again (management API)',
    ok: missing.length === 0,
    detail: missing.length === 0 ? `${counts.size} work queues, each with a consumer` : `${missing.length} of ${counts.size} work queues without a consumer: ${missing.join(', ')}`,
  };
}
