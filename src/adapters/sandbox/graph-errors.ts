import { randomUUID } from 'node:crypto';

/** A Graph response before serialization: the same shape serves HTTP and `$batch` items. */
export interface GraphResult {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Graph's `innerError.date` has no fraction and no zone (https://learn.microsoft.com/graph/errors). */
export function graphDate(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 19);
}

export interface GraphErrorDetail {
  readonly target: string;
  readonly code: string;
}

/**
 * The Graph error envelope (concepts/errors.md):
 * `{"error":{"code","message","details?","innerError":{"date","request-id","client-request-id"}}}`.
 */
export function graphError(status: number, code: string, message: string, nowMs: number, options: { details?: GraphErrorDetail[]; innerCode?: string; headers?: Record<string, string> } = {}): GraphResult {
  const requestId = randomUUID();
  const innerError: Record<string, string> = {};
  if (options.innerCode !== undefined) innerError.code = options.innerCode;
  innerError.date = graphDate(nowMs);
  innerError['request-id'] = requestId;
  innerError['client-request-id'] = requestId;
  if (options.innerCode !== undefined) innerError.status = String(status);
  const error: Record<string, unknown> = { code, message };
  if (options.details) error.details = options.details;
  error.innerError = innerError;
  return { status, headers: options.headers, body: { error } };
}

export function notFound(id: string, nowMs: number): GraphResult {
  return graphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`, nowMs);
}

export function badRequest(message: string, nowMs: number, details?: GraphErrorDetail[]): GraphResult {
  return graphError(400, 'Request_BadRequest', message, nowMs, details ? { details } : {});
}

export function forbidden(nowMs: number): GraphResult {
  return graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.', nowMs);
}
