export { ATTR, processAttributes, processSpanName, publishAttributes, publishSpanName } from './attributes.ts';
export {
  amqpHeaderGetter,
  amqpHeaderSetter,
  formatSpanContext,
  httpHeaderGetter,
  parseSpanContext,
  traceIdOf,
  TRACE_HEADERS,
} from './carrier.ts';
export { continueFrom, endSpan, failSpan, isTraced, previousSpanValue, publishTraced, startPublishSpan, startReplaySpan, tracer, tracingActive } from './spans.ts';
