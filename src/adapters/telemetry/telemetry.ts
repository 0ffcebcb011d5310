import { context, metrics, propagation, ProxyTracerProvider, trace, type Meter } from '@opentelemetry/api';
import type { TokenCredential } from '@azure/identity';
import { logs } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { setTracingActive } from './spans';

/** Where telemetry goes. Azure Monitor and OTLP can both be on: the OTLP exporters then join the distro's pipelines. */
export interface TelemetryOptions {
  readonly serviceName: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans, metrics and log records go there over OTLP/HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`). */
  readonly otlpEndpoint: string | undefined;
  /** APPLICATIONINSIGHTS_CONNECTION_STRING with the credential that sends (Entra ID ingestion): the Azure Monitor distro. */
  readonly azureMonitor: { readonly connectionString: string; readonly credential: TokenCredential } | undefined;
  /** How often metrics are pushed to an exporter. Default 60 s. */
  readonly metricExportIntervalMs?: number;
}

/** Traces, meters and logs of the service; the domain never sees this, only the ports built on it. */
export interface Telemetry {
  /** Whether spans and logs leave the process (an exporter is configured). */
  readonly exporting: boolean;
  readonly meter: Meter;
  /** Every metric in the Prometheus text exposition format, collected now. */
  prometheusText(): Promise<string>;
  /** Exports what is buffered now (spans, metrics, logs). */
  flush(): Promise<void>;
  /** Flushes what is buffered, stops the exporters and unregisters the global providers. */
  shutdown(): Promise<void>;
}

/** A reader that collects only when asked: what GET /api/metrics serves. */
class PullMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * Starts the service's telemetry. Metrics are always kept in process (for /api/metrics). With the
 * Azure Monitor connection string, the distro (`@azure/monitor-opentelemetry`) takes spans, metrics
 * and logs; with an OTLP endpoint, spans, metrics and logs go there too. Either registers the global
 * tracer provider with W3C trace context propagation. With neither, no span is made at all.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const resource = resourceFromAttributes({ 'service.name': options.serviceName });
  const pull = new PullMetricReader();
  const serializer = new PrometheusSerializer();
  const exportIntervalMillis = options.metricExportIntervalMs ?? 60_000;
  const otlp =
    options.otlpEndpoint === undefined
      ? undefined
      : {
          spans: new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.otlpEndpoint}/v1/traces` })),
          metrics: new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${options.otlpEndpoint}/v1/metrics` }), exportIntervalMillis }),
          logs: new BatchLogRecordProcessor(new OTLPLogExporter({ url: `${options.otlpEndpoint}/v1/logs` })),
        };
  const prometheusText = async (): Promise<string> => serializer.serialize((await pull.collect()).resourceMetrics);

  if (options.azureMonitor !== undefined) {
    const { useAzureMonitor, shutdownAzureMonitor } = await import('@azure/monitor-opentelemetry');
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString: options.azureMonitor.connectionString, credential: options.azureMonitor.credential },
      resource,
      // Every log line reaches Azure Monitor, not only those of sampled traces.
      enableTraceBasedSamplingForLogs: false,
      metricReaders: otlp === undefined ? [pull] : [pull, otlp.metrics],
      ...(otlp === undefined ? {} : { spanProcessors: [otlp.spans], logRecordProcessors: [otlp.logs] }),
    });
    setTracingActive(true);
    return {
      exporting: true,
      meter: metrics.getMeter(options.serviceName),
      prometheusText,
      async flush() {
        const tracerProvider = trace.getTracerProvider();
        const providers = [tracerProvider instanceof ProxyTracerProvider ? tracerProvider.getDelegate() : tracerProvider, metrics.getMeterProvider(), logs.getLoggerProvider()];
        await Promise.allSettled(providers.map((provider) => (provider as { forceFlush?: () => Promise<void> }).forceFlush?.()));
      },
      async shutdown() {
        setTracingActive(false);
        await shutdownAzureMonitor().catch(() => undefined);
        unregisterGlobals();
      },
    };
  }

  const meterProvider = new MeterProvider({ resource, readers: otlp === undefined ? [pull] : [pull, otlp.metrics] });
  let tracerProvider: NodeTracerProvider | undefined;
  let loggerProvider: LoggerProvider | undefined;
  if (otlp !== undefined) {
    tracerProvider = new NodeTracerProvider({ resource, spanProcessors: [otlp.spans] });
    tracerProvider.register();
    loggerProvider = new LoggerProvider({ resource, processors: [otlp.logs] });
    logs.setGlobalLoggerProvider(loggerProvider);
    setTracingActive(true);
  }
  return {
    exporting: otlp !== undefined,
    meter: meterProvider.getMeter(options.serviceName),
    prometheusText,
    async flush() {
      await Promise.allSettled([tracerProvider?.forceFlush(), meterProvider.forceFlush(), loggerProvider?.forceFlush()]);
    },
    async shutdown() {
      if (tracerProvider !== undefined) setTracingActive(false);
      await Promise.allSettled([meterProvider.shutdown(), tracerProvider?.shutdown(), loggerProvider?.shutdown()]);
      if (tracerProvider !== undefined) unregisterGlobals();
    },
  };
}

function unregisterGlobals(): void {
  trace.disable();
  context.disable();
  propagation.disable();
  metrics.disable();
  logs.disable();
}
