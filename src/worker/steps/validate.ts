import type { z } from 'zod';
import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { InvalidPayloadError } from '../errors.ts';

const MAX_ISSUES = 5;

/** Checks the decoded body against the worker's schema; the typed result becomes the payload. */
export function validateStep(schema: z.ZodType): Step<JobState> {
  return async (ctx, next) => {
    const parsed = await parse(schema, ctx.body);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, MAX_ISSUES)
        .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
      throw new InvalidPayloadError(`payload fails the schema: ${issues.join('; ')}`);
    }
    ctx.payload = parsed.data;
    await next();
  };
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
