import type { ConsumerSpec, JobSpec } from './schema.ts';

/**
 * Pure: which job types with priorities a consumer receives, read from the
 * file — a job type published to the consumer's source exchange under a
 * routing key its binding matches. Topic patterns are matched as RabbitMQ
 * does; on fanout, headers and consistent-hash sources every job type of
 * the exchange counts (the routing key decides nothing there). A job
 * reaching the consumer only through an exchange-to-exchange binding is not
 * followed: set `queueOptions.maxPriority` on such a consumer.
 */
export function consumerPriority(
  consumer: ConsumerSpec,
  sourceType: string | undefined,
  jobs: Readonly<Record<string, JobSpec>>,
): { max: number; jobTypes: string[] } | undefined {
  const { pattern } = consumer.source;
  const patterns = pattern === undefined ? undefined : typeof pattern === 'string' ? [pattern] : pattern;
  let max = 0;
  const jobTypes: string[] = [];
  for (const [type, job] of Object.entries(jobs)) {
    if (job.priority === undefined || job.exchange !== consumer.source.exchange) continue;
    const routingKey = job.routingKey ?? type;
    if (!receives(sourceType, patterns, routingKey)) continue;
    max = Math.max(max, job.priority.max);
    jobTypes.push(type);
  }
  return jobTypes.length === 0 ? undefined : { max, jobTypes: jobTypes.sort() };
}

function receives(sourceType: string | undefined, patterns: string[] | undefined, routingKey: string): boolean {
  if (sourceType === 'topic') return (patterns ?? ['#']).some((p) => topicMatches(p, routingKey));
  if (sourceType === 'direct') return (patterns ?? ['']).includes(routingKey);
  return true;
}

/** RabbitMQ's topic matching: words split on `.`, `*` is one word, `#` zero or more. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const p = pattern.split('.');
  const k = routingKey.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') {
      for (let skip = j; skip <= k.length; skip++) if (match(i + 1, skip)) return true;
      return false;
    }
    if (j === k.length) return false;
    return (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}
