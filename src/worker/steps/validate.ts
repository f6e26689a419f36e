import type { z } from 'zod';
import type { JobType } from '../../client/job-types.ts';
import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { InvalidPayloadError } from '../errors.ts';

const MAX_ISSUES = 5;

export interface ValidateOptions {
  /** The topology's job types, their JSON Schema validators built once per worker. */
  jobTypes: ReadonlyMap<string, JobType>;
  /** The worker's own, optional, stricter schema. */
  schema: z.ZodType | undefined;
}

/**
 * Checks the decoded body against the JSON Schema of its job type (the
 * message's `type`) in the topology — the validator the producer and the
 * job client use, so a job they accepted is never refused here for a
 * difference of validators — then against the worker's own schema, whose
 * output becomes the payload. A message whose job type the topology does
 * not declare passes only through a worker that has a schema of its own:
 * otherwise nothing would stand behind the payload type its handler sees.
 */
export function validateStep(options: ValidateOptions): Step<JobState> {
  const { jobTypes, schema } = options;
  return async (ctx, next) => {
    const type = ctx.delivery.properties.type;
    const jobType = type === undefined ? undefined : jobTypes.get(type);
    if (jobType !== undefined) {
      const parsed = jobType.validator.safeParse(ctx.body);
      if (!parsed.success) throw invalid(`payload fails the schema of job type "${jobType.type}"`, parsed.error.issues);
    } else if (schema === undefined) {
      throw new InvalidPayloadError(
        type === undefined
          ? 'the message has no job type (AMQP `type`) to validate it against, and the worker has no schema of its own'
          : `job type "${type}" is not in the topology, and the worker has no schema of its own`,
      );
    }
    if (schema === undefined) {
      ctx.payload = ctx.body;
    } else {
      const parsed = await parse(schema, ctx.body);
      if (!parsed.success) throw invalid("payload fails the worker's schema", parsed.error.issues);
      ctx.payload = parsed.data;
    }
    await next();
  };
}

function invalid(what: string, issues: readonly z.core.$ZodIssue[]): InvalidPayloadError {
  const listed = issues.slice(0, MAX_ISSUES).map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  return new InvalidPayloadError(`${what}: ${listed.join('; ')}`);
}

/** Synchronous parse for the usual schema; the async one only for schemas with async refinements. */
async function parse(schema: z.ZodType, body: unknown) {
  try {
    return schema.safeParse(body);
  } catch (error) {
    if (error instanceof Error && error.constructor.name === '$ZodAsyncError') return schema.safeParseAsync(body);
    throw error;
  }
}
