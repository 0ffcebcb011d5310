import pino, { type DestinationStream } from 'pino';
import type { LogFields, Logger } from '../../domain/ports/logger';
import { redact, redactString } from './redact';

class PinoLogger implements Logger {
  constructor(private readonly base: pino.Logger) {}

  debug(message: string, fields?: LogFields): void {
    this.base.debug(redact(fields ?? {}) as object, redactString(message));
  }
  info(message: string, fields?: LogFields): void {
    this.base.info(redact(fields ?? {}) as object, redactString(message));
  }
  warn(message: string, fields?: LogFields): void {
    this.base.warn(redact(fields ?? {}) as object, redactString(message));
  }
  error(message: string, fields?: LogFields): void {
    this.base.error(redact(fields ?? {}) as object, redactString(message));
  }
  child(fields: LogFields): Logger {
    return new PinoLogger(this.base.child(redact(fields) as pino.Bindings));
  }
}

/** JSON-lines logger (one object per line) with redaction of every field and message. */
export function createLogger(options: { level: 'debug' | 'info' | 'warn' | 'error' | 'silent'; destination?: DestinationStream; name?: string }): Logger {
  const base = pino(
    {
      level: options.level,
      base: { service: options.name ?? 'm365-bridge' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
  return new PinoLogger(base);
}
