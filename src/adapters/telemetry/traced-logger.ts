import { logs, SeverityNumber, type AnyValueMap, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { LogFields, Logger } from '../../domain/ports/logger';
import { redact, redactString } from '../logging/redact';
import { currentTraceIds } from './spans';

type Level = 'debug' | 'info' | 'warn' | 'error';

const severities: Record<Level, SeverityNumber> = { debug: SeverityNumber.DEBUG, info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };

/** Log attributes: scalars as they are, anything else (already redacted) as JSON text. */
function attributesOf(fields: LogFields): AnyValueMap {
  const attributes: AnyValueMap = {};
  for (const [key, value] of Object.entries(redact(fields) as Record<string, unknown>)) {
    if (value === undefined) continue;
    attributes[key] = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null ? value : JSON.stringify(value);
  }
  return attributes;
}

class TracedLogger implements Logger {
  constructor(
    private readonly base: Logger,
    private readonly bindings: LogFields,
    private readonly records: OtelLogger,
    private readonly minimum: SeverityNumber,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }
  child(fields: LogFields): Logger {
    return new TracedLogger(this.base.child(fields), { ...this.bindings, ...fields }, this.records, this.minimum);
  }

  private write(level: Level, message: string, fields: LogFields | undefined): void {
    const ids = currentTraceIds();
    this.base[level](message, ids === undefined ? fields : { ...fields, ...ids });
    // The record carries the active span's context itself (the exporter sets operation and parent ids from it).
    if (severities[level] < this.minimum) return;
    this.records.emit({ severityNumber: severities[level], severityText: level.toUpperCase(), body: redactString(message), attributes: attributesOf({ ...this.bindings, ...fields }) });
  }
}

/**
 * A logger whose lines carry the active span's `trace_id` and `span_id`; each line is also an
 * OpenTelemetry log record with its severity and the span's context (what the Azure Monitor distro
 * exports as a trace in Application Insights, and OTLP as a log record), redacted like the line itself.
 */
export function tracedLogger(base: Logger, options: { readonly level: Level | 'silent' }): Logger {
  const minimum = options.level === 'silent' ? Number.POSITIVE_INFINITY : severities[options.level];
  return new TracedLogger(base, {}, logs.getLogger('m365-bridge'), minimum);
}
