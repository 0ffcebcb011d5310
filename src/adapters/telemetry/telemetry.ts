import { context, propagation, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TelemetryOptions {
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans and metrics go there over OTLP/HTTP; unset: nothing leaves the process. */
  readonly otlpEndpoint: string | undefined;
  /** How often metrics are pushed over OTLP. */
  readonly metricExportIntervalMs?: number;
}

/** Traces and meters of the service; the domain never sees this, only the ports built on it. */
export interface Telemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Every metric in the Prometheus text exposition format, collected now. */
  prometheusText(): Promise<string>;
  /** Flushes what is buffered and stops the exporters. */
  shutdown(): Promise<void>;
}

/** A reader that collects only when asked: what GET /api/metrics serves. */
class PullMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * Starts the service's telemetry. Metrics are always kept in process (for /api/metrics); with an
 * OTLP endpoint, spans and metrics are exported to it and the tracer provider is registered
 * globally, with W3C trace context propagation. Without one, spans are not recorded at all.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const resource = resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion });
  const pull = new PullMetricReader();
  const readers: MetricReader[] = [pull];
  let tracerProvider: NodeTracerProvider | undefined;
  if (options.otlpEndpoint !== undefined) {
    const base = options.otlpEndpoint.replace(/\/+$/, '');
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: options.metricExportIntervalMs ?? 60_000 }));
    tracerProvider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }), { scheduledDelayMillis: 1_000 })] });
    tracerProvider.register();
  }
  const meterProvider = new MeterProvider({ resource, readers });
  const serializer = new PrometheusSerializer();
  return {
    tracer: (tracerProvider ?? trace).getTracer(options.serviceName, options.serviceVersion),
    meter: meterProvider.getMeter(options.serviceName, options.serviceVersion),
    async prometheusText() {
      const { resourceMetrics } = await pull.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      await Promise.allSettled([meterProvider.shutdown(), tracerProvider?.shutdown()]);
      if (tracerProvider !== undefined) {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}
