/** The job client: enqueue from code with the HTTP producer's validation, conventions and guarantees. */
export { createJobClient, type JobClient, type JobClientOptions } from './job-client.ts';
export {
  InvalidJobOptionError,
  InvalidJobPayloadError,
  JobClientClosedError,
  PrecedingJobFailedError,
  UnknownJobTypeError,
  type JobOption,
  type PayloadIssue,
} from './errors.ts';
export type { JobHeaderValue } from './prepare.ts';
export { JobSender, type JobPublisher, type JobSenderOptions } from './sender.ts';
export type { EnqueuedJob, EnqueueManyItem, EnqueueManyOptions, EnqueueManyResult, EnqueueOptions, JobTypeMap, JobTypeName } from './types.ts';
