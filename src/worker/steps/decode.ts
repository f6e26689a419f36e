import type { Step } from '../pipeline.ts';
import type { JobState } from '../context.ts';
import { MalformedMessageError } from '../errors.ts';

/** Parses the JSON body; anything else can never succeed and is dead-lettered as malformed. */
export const decodeStep: Step<JobState> = async (ctx, next) => {
  const type = ctx.delivery.properties.contentType;
  if (typeof type === 'string' && type !== '' && !/json/i.test(type)) {
    throw new MalformedMessageError(`content type ${type} is not JSON`);
  }
  try {
    ctx.body = JSON.parse(ctx.delivery.content.toString('utf8'));
  } catch (error) {
    throw new MalformedMessageError(`body is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  await next();
};
