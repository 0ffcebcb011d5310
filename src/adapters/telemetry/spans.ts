import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import type { TraceContext } from '../../domain/ports/work-queue';

const tracer = trace.getTracer('m365-bridge');

let recording = false;

/** Set by the telemetry start and shutdown: whether a tracer provider is registered and spans are worth making. */
export function setTracingActive(active: boolean): void {
  recording = active;
}

/** Whether spans are recorded (an exporter is configured). When not, the wrappers call through at no cost. */
export function tracingActive(): boolean {
  return recording;
}

const kinds = { server: SpanKind.SERVER, client: SpanKind.CLIENT, consumer: SpanKind.CONSUMER, producer: SpanKind.PRODUCER, internal: SpanKind.INTERNAL } as const;
export type SpanKindName = keyof typeof kinds;

/** What `inSpan` hands its function: set more attributes, or mark the span failed without throwing. */
export interface SpanHandle {
  setAttributes(attributes: Attributes): void;
  fail(message: string): void;
}

/**
 * Runs `fn` in a span that continues the trace of `parent` (W3C `traceparent`/`tracestate`, as an
 * HTTP request or a queue message carries them) or the current one. A throw marks the span failed.
 * Without a registered tracer provider it only calls `fn`.
 */
export async function inSpan<T>(name: string, kind: SpanKindName, parent: TraceContext | undefined, attributes: Attributes, fn: (span: SpanHandle) => Promise<T>): Promise<T> {
  if (!recording) return fn(noSpan);
  const parentContext = parent === undefined || parent['traceparent'] === undefined ? context.active() : propagation.extract(context.active(), parent);
  return tracer.startActiveSpan(name, { kind: kinds[kind], attributes }, parentContext, async (span) => {
    try {
      return await fn({
        setAttributes: (more) => span.setAttributes(more),
        fail: (message) => span.setStatus({ code: SpanStatusCode.ERROR, message }),
      });
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

const noSpan: SpanHandle = { setAttributes: () => undefined, fail: () => undefined };

/** The current trace context as W3C headers, to send along with a queue message; undefined outside a recorded span. */
export function currentTraceContext(): TraceContext | undefined {
  if (!recording) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'] === undefined ? undefined : carrier;
}

/** The ids a log line carries to join its trace, or nothing outside a recorded span. */
export function currentTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!recording) return undefined;
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (spanContext === undefined || !trace.isSpanContextValid(spanContext)) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
