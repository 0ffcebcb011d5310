export type LogFields = Readonly<Record<string, unknown>>;

/** Structured logger. Implementations redact secrets; callers still never pass them on purpose. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` (ids: connectionId, userId, correlationId...) to every line. */
  child(fields: LogFields): Logger;
}
