import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { ATTR, processAttributes, processSpanName } from '../../tracing/attributes.ts';
import { parseSpanContext, TRACE_HEADERS } from '../../tracing/carrier.ts';
import { contextOfMessage, failSpan, isTraced, tracer, tracingActive } from '../../tracing/spans.ts';
import type { JobState } from '../context.ts';
import { ReleasedError } from '../errors.ts';
import type { Step } from '../pipeline.ts';

export interface TraceStepOptions {
  consumer: string;
}

/**
 * The outermost step: one CONSUMER span per delivery of a job to this
 * consumer, child of the trace the message carries (`traceparent`), linked
 * to the span of the failed attempt a retry copy names
 * (`x-warren-previous-span`). The rest of the pipeline — the handler
 * included — runs in its context, so the handler's own spans nest under
 * it; settle reads `ctx.span` to stamp the retry or DLQ copy. Without an
 * OpenTelemetry SDK the step is a plain `next()`.
 */
export function traceStep(options: TraceStepOptions): Step<JobState> {
  const name = processSpanName(options.consumer);
  return (ctx, next) => {
    if (!tracingActive()) return next();
    const parent = contextOfMessage(ctx.headers, ROOT_CONTEXT);
    const span = tracer.startSpan(name, { kind: SpanKind.CONSUMER }, parent);
    if (!isTraced(span)) return next();
    ctx.span = span;
    if (span.isRecording()) {
      const { delivery } = ctx;
      span.setAttributes(
        processAttributes({
          consumer: options.consumer,
          queue: delivery.queue,
          exchange: delivery.exchange,
          routingKey: delivery.routingKey,
          messageId: ctx.jobId,
          jobType: delivery.properties.type,
          correlationId: typeof delivery.properties.correlationId === 'string' ? delivery.properties.correlationId : undefined,
          attempt: ctx.attempt,
          bodySize: delivery.content.length,
        }),
      );
      const previous = parseSpanContext(ctx.headers[TRACE_HEADERS.previousSpan]);
      if (previous !== undefined) span.addLink({ context: previous, attributes: { [ATTR.attempt]: ctx.attempt - 1 } });
    }
    return context.with(trace.setSpan(parent, span), next).finally(() => {
      if (span.isRecording()) {
        const outcome = ctx.outcome ?? 'unsettled';
        span.setAttribute(ATTR.outcome, outcome);
        // In-place retries raise the attempt: the span says where it ended.
        span.setAttribute(ATTR.attempt, ctx.attempt);
        if (ctx.deadLetterReason !== undefined) span.setAttribute(ATTR.deadLetterReason, ctx.deadLetterReason);
        // A released job (shutdown) did not fail; anything else that threw did.
        if (ctx.error !== undefined && !(ctx.error instanceof ReleasedError)) failSpan(span, ctx.error);
      }
      span.end();
    });
  };
}
