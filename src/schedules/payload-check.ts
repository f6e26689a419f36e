import { InvalidJobPayloadError } from '../client/errors.ts';
import { buildJobTypes } from '../client/job-types.ts';
import { prepareJob } from '../client/prepare.ts';
import type { CompileIssue } from '../topology/compile.ts';
import type { TopologyPlan } from '../topology/plan.ts';

/**
 * Each schedule's payload, checked at load the way the job client will
 * check it at every tick (schema, then ordering key): a payload that would
 * fail is a file error with a position, not a scheduler failing at 3 a.m.
 */
export function schedulePayloadIssues(plan: TopologyPlan): CompileIssue[] {
  const schedules = plan.schedules ?? [];
  if (schedules.length === 0) return [];
  const used = new Set(schedules.map((s) => s.jobType));
  const jobTypes = buildJobTypes(plan.jobs.filter((job) => used.has(job.type)));
  const issues: CompileIssue[] = [];
  for (const schedule of schedules) {
    const jobType = jobTypes.get(schedule.jobType);
    // An unknown job type is already reported by the schema's reference check.
    if (jobType === undefined) continue;
    try {
      prepareJob(jobType, { payload: schedule.payload, id: 'schedule-check', correlationId: undefined, headers: undefined, now: new Date(0) });
    } catch (error) {
      if (!(error instanceof InvalidJobPayloadError)) throw error;
      for (const issue of error.issues) {
        issues.push({
          path: ['schedules', schedule.name, 'payload', ...issue.path],
          message: `does not match job type "${schedule.jobType}": ${issue.message}`,
        });
      }
    }
  }
  return issues;
}
