/**
 * warren's public API: everything a service imports from 'warren', and
 * nothing else (the package's `exports` reach only this module and
 * `warren/testing`). What is not exported here may change in any release;
 * what is follows semver (see CHANGELOG.md).
 */

// Errors, by failure kind; check them with `instanceof`, read `code` in logs.
export {
  BrokerUnavailableError,
  ConflictError,
  NonRetryableError,
  PublishRejectedError,
  TopologyError,
  UnroutableError,
  WarrenError,
  type TopologyIssue,
} from './errors.ts';

// Enqueue from code.
export {
  createJobClient,
  InvalidJobOptionError,
  InvalidJobPayloadError,
  JobClientClosedError,
  PrecedingJobFailedError,
  UnknownJobTypeError,
  type EnqueuedJob,
  type EnqueueManyItem,
  type EnqueueManyOptions,
  type EnqueueManyResult,
  type EnqueueOptions,
  type JobClient,
  type JobClientOptions,
  type JobHeaderValue,
  type JobOption,
  type JobTypeMap,
  type JobTypeName,
  type PayloadIssue,
} from './client/index.ts';
// Jobs for later: a delay's path through the delay levels (the dry run of `warren delay path`).
export { delayPath, MAX_DELAY_MS, type DelayHop, type DelayPath } from './delay/levels.ts';

// Workers.
export {
  ClaimBusyError,
  defineWorker,
  HandlerTimeoutError,
  InvalidPayloadError,
  isWorkerDefinition,
  loadWorkerModule,
  MalformedMessageError,
  ReleasedError,
  runWorkers,
  Worker,
  WORKER_DEFAULTS,
  WorkerModuleError,
  WorkerState,
  type IdempotencyOption,
  type JobContext,
  type JobOutcome,
  type JobSettledEvent,
  type WorkerDefinition,
  type WorkerInit,
  type WorkerOptions,
  type WorkerSpec,
} from './worker/index.ts';

// Idempotency stores.
export {
  ClaimLostError,
  createIdempotencyStore,
  IdempotencyStoreError,
  MEMORY_STORE_DEFAULTS,
  MemoryIdempotencyStore,
  POSTGRES_STORE_DEFAULTS,
  PostgresIdempotencyStore,
  REDIS_STORE_DEFAULTS,
  RedisIdempotencyStore,
  type ClaimResult,
  type IdempotencyStore,
  type IdempotencyStoreConfig,
  type IdempotencyTransaction,
  type MemoryStoreOptions,
  type PostgresStoreOptions,
  type RedisStoreOptions,
} from './idempotency/index.ts';

// The HTTP producer.
export { startProducer, type ProducerOptions, type ProducerSource, type RunningProducer } from './producer/index.ts';

// Topology: load (file → validated plan), compile, plan / apply against a broker, export.
export { loadTopology, parseTopology, type LoadedTopology, type ParseResult } from './topology/load.ts';
export { compileTopology, type CompileIssue, type CompileResult } from './topology/compile.ts';
export {
  applyTopology,
  planTopology,
  PlanConflictError,
  type ApplyOptions,
  type ApplyReport,
  type BrokerTarget,
  type PlanReport,
} from './topology/apply.ts';
export type { Change, ChangeAction, ChangeKind, PropertyDiff } from './topology/diff.ts';
export { exportDefinitions, type Definitions } from './topology/export.ts';
export { topologyJsonSchema } from './topology/json-schema.ts';
export type { TopologyFile, TopologyFileInput } from './topology/schema.ts';
export type {
  Arguments,
  ArgumentValue,
  BindingPlan,
  ConsumerPlan,
  ExchangePlan,
  JobPlan,
  QueuePlan,
  RetryTierPlan,
  SchedulePlan,
  TopologyPlan,
} from './topology/plan.ts';
export { Scheduler, SCHEDULER_DEFAULTS, SchedulerState, type SchedulerOptions } from './schedules/scheduler.ts';
export { dueTicks, nextTick, tickJobId, type DueInput, type DueTicks, type MissedPolicy, type TickRow, type TickRule } from './schedules/rule.ts';
export { generatePayloadTypes } from './typegen/generate.ts';
/** The one vhost rule: the topology's `vhost`, else the AMQP URL's. */
export { targetVhost, urlsForVhost } from './broker/vhost.ts';

// Dead-letter queues: list, replay, purge (what `warren dlq` runs). A
// session holds a DLQ's messages for one pass and gives back what it did
// not take when it ends; replay goes where `replayRouteFor` says.
export { withDeadLetterQueue, type DlqContext, type DlqSession } from './dlq/service.ts';
export type { DlqBroker } from './dlq/broker.ts';
export { listDeadLetters, type ListOptions } from './dlq/inspect.ts';
export { replayRouteFor, type ReplayRoute, type ReplayTargetRequest } from './dlq/replay-target.ts';
export { replayDeadLetters, type OpenPublisher, type ReplayOptions, type ReplayProgress } from './dlq/replay.ts';
export { purgeDeadLetters, type PurgeOptions } from './dlq/purge.ts';
export { parseSelection, type Selection, type SelectionInput } from './dlq/filter.ts';
export type { DlqGroup, DlqListing, ListedMessage, PurgeSummary, ReplaySummary } from './dlq/report.ts';
export { DlqInputError, DlqQueueError } from './dlq/errors.ts';

// Job history (opt-in, PostgreSQL): what happened to each job. On with WARREN_HISTORY_URL, or `history` in code.
export {
  openHistory,
  historyOptionsFromEnv,
  consumerState,
  HISTORY_DEFAULTS,
  CONSUMER_STATES,
  type HistoryOptions,
  type HistorySetting,
  type JobHistoryHandle,
  type HistoryRecorder,
  type HistoryReader,
  type HistoryWriter,
  type HistoryWriterOptions,
  type JobHistory,
  type ConsumerTimeline,
  type AttemptView,
  type JobEventView,
  type ConsumerState,
  type JobLookup,
  type JobSearch,
  type JobSearchPage,
  type JobSummary,
  type AttemptOutcome,
  type AttemptRecord,
  type JobAcceptedRecord,
  type JobEventRecord,
  type JobEventKind,
} from './history/index.ts';

// Message conventions: the `x-warren-*` header names (e.g. to read `ctx.headers`).
export { HEADERS, type DeadLetterReason } from './message/headers.ts';
export type { Logger } from './log.ts';

// Partitioned event logs on stream queues: publishing goes through the job
// client's `publishEvent`; consumer groups keep membership and offsets in PostgreSQL.
export {
  defineStreamWorker,
  groupDeadLetterQueue,
  startStreamWorker,
  STREAM_HEADERS,
  type BatchContext,
  type EventRecord,
  type RunningStreamWorker,
  type StreamWorkerDefinition,
  type StreamWorkerEvent,
  type StreamWorkerOptions,
} from './streams/stream-worker.ts';
export { partitionOf, stableHash } from './streams/partition-hash.ts';
export { streamWorkerMetrics } from './streams/stream-metrics.ts';
export type { PublishedEvent, PublishEventOptions } from './streams/event-sender.ts';
export { FencedError, UnknownEventTypeError } from './streams/errors.ts';
export { groupStatus, resetGroup, type PartitionStatus, type ResetRow } from './streams/group-admin.ts';
export { parseResetTarget, type ResetTarget } from './streams/reset-target.ts';
export type { EventPlan, StreamPlan } from './streams/stream-plan.ts';
