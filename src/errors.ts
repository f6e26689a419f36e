/**
 * Errors by failure kind. Each has a stable `code` for scripts and logs and
 * keeps its `cause`; callers check them with `instanceof`, never by message.
 */

export class WarrenError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export interface TopologyIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** An invalid topology file: one entry per problem, each with its position. */
export class TopologyError extends WarrenError {
  readonly issues: TopologyIssue[];
  constructor(issues: TopologyIssue[]) {
    super('TOPOLOGY_INVALID', issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }
}

export function formatIssue(issue: TopologyIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

/** The live broker has an object that differs from the plan. */
export class ConflictError extends WarrenError {
  readonly conflicts: ReadonlyArray<{ kind: string; name: string; argument: string; current: unknown; desired: unknown }>;
  constructor(conflicts: ConflictError['conflicts']) {
    super(
      'TOPOLOGY_CONFLICT',
      conflicts
        .map((c) => `${c.kind} ${c.name}: ${c.argument} is ${JSON.stringify(c.current)} on the broker, ${JSON.stringify(c.desired)} in the file`)
        .join('\n'),
    );
    this.conflicts = conflicts;
  }
}

/** The broker returned a mandatory message: no queue is bound for it. */
export class UnroutableError extends WarrenError {
  constructor(exchange: string, routingKey: string) {
    super('UNROUTABLE', `no queue is bound to exchange "${exchange}" for routing key "${routingKey}"`);
  }
}

/** No connection, a blocked connection, or a confirm that never came. */
export class BrokerUnavailableError extends WarrenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BROKER_UNAVAILABLE', message, options);
  }
}

/** The broker nacked a publish (e.g. a queue at max-length with reject-publish). */
export class PublishRejectedError extends WarrenError {
  constructor(message: string) {
    super('PUBLISH_REJECTED', message);
  }
}

/** Thrown by a handler to skip the retry tiers and go to the DLQ at once. */
export class NonRetryableError extends WarrenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NON_RETRYABLE', message, options);
  }
}
