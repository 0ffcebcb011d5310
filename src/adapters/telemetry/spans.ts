import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';

const tracer = trace.getTracer('m365-bridge');

export type TraceCarrier = Record<string, string>;

const kinds = { server: SpanKind.SERVER, consumer: SpanKind.CONSUMER, producer: SpanKind.PRODUCER, internal: SpanKind.INTERNAL } as const;

/**
 * Runs `fn` in a span that continues the trace of `parent` (W3C `traceparent`/`tracestate`, as an
 * HTTP request or a queue message carries them) or the current one. A throw marks the span failed.
 * A no-op unless a tracer provider is registered (OTEL_EXPORTER_OTLP_ENDPOINT set).
 */
export async function inSpan<T>(name: string, kind: keyof typeof kinds, parent: TraceCarrier | undefined, attributes: Attributes, fn: (setAttributes: (more: Attributes) => void) => Promise<T>): Promise<T> {
  const parentContext = parent === undefined ? context.active() : propagation.extract(context.active(), parent);
  return tracer.startActiveSpan(name, { kind: kinds[kind], attributes }, parentContext, async (span) => {
    try {
      return await fn((more) => span.setAttributes(more));
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The current trace context as W3C headers, to send along with a queue message; empty outside a trace. */
export function currentTraceContext(): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The ids a log line carries to join its trace, or nothing outside a recorded span. */
export function currentTraceIds(): { trace_id: string; span_id: string } | undefined {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (spanContext === undefined || !trace.isSpanContextValid(spanContext)) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
