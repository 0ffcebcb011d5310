import { GraphClientError } from '@microsoft/microsoft-graph-client';

/**
 * What a failed Graph call means for the caller (STYLE.md habit 6):
 * - `transient`: 429, 5xx, network, token endpoint hiccup; retry later, after `retryAfterMs` if set.
 * - `bad_request`: 400 and other permanent client errors; record on the binding, do not retry.
 * - `exists`: 400 ObjectConflict on create; look the object up and link it.
 * - `not_found`: 404; on delete that is success, on update drop the stale link and create.
 * - `stop`: 401/403 even with a fresh token; mark the connection and alert, never spin.
 * - `delta_expired`: 410 / syncStateNotFound; fall back to a full resync.
 * - `reauthorization_required`: the connection's grant is gone; reschedule the work, do not fail it.
 * - `not_connected`: the connection is pending, de-authorized or deleted; drop the work.
 */
export type GraphErrorCode = 'transient' | 'bad_request' | 'exists' | 'not_found' | 'stop' | 'delta_expired' | 'reauthorization_required' | 'not_connected';

/** A classified Graph failure. `status` and `graphCode` are Graph's when it answered. */
export class GraphRequestError extends Error {
  readonly code: GraphErrorCode;
  readonly status: number | undefined;
  /** Graph's `error.code` (`Request_BadRequest`, `TooManyRequests`...). */
  readonly graphCode: string | undefined;
  /** From `Retry-After`, for `transient`. */
  readonly retryAfterMs: number | undefined;

  constructor(code: GraphErrorCode, message: string, options: { status?: number; graphCode?: string; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GraphRequestError';
    this.code = code;
    this.status = options.status;
    this.graphCode = options.graphCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Wraps an error raised inside the middleware chain so the Graph SDK passes it through unchanged
 * (it rewraps everything but its own GraphClientError into a GraphError and loses the original).
 */
export function carry(error: GraphRequestError): GraphClientError {
  const carrier = new GraphClientError(error.message);
  carrier.customError = error;
  return carrier;
}

/** Milliseconds from a `Retry-After` header (delta-seconds or an HTTP date), if it has one. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

interface GraphErrorBody {
  readonly code?: string;
  readonly message?: string;
  readonly details?: readonly { readonly code?: string; readonly target?: string }[];
}

function errorBodyOf(body: unknown): GraphErrorBody | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  // Either the whole payload ({"error": {...}}) or, as the SDK keeps it, the inner object.
  const inner = 'error' in value && typeof value.error === 'object' && value.error !== null ? value.error : value;
  return inner as GraphErrorBody;
}

// Graph reports "object exists" as a 400: ObjectConflict on create, or the members "already exist" message.
function isConflict(body: GraphErrorBody | undefined): boolean {
  if (body === undefined) return false;
  if (body.details?.some((d) => d.code === 'ObjectConflict') === true) return true;
  return /already exist/i.test(body.message ?? '');
}

const deltaExpiredCodes = /^(syncStateNotFound|resyncRequired|syncStateInvalid)$/i;

/** Classifies a Graph answer by its HTTP status first, then (for 400) by its error body. */
export function classifyGraphResponse(status: number, body: unknown, retryAfter: string | null | undefined, cause?: unknown): GraphRequestError {
  const error = errorBodyOf(body);
  const graphCode = error?.code;
  const message = `Graph ${status}${graphCode === undefined ? '' : ` ${graphCode}`}: ${error?.message ?? 'no error message'}`;
  const options = { status, ...(graphCode === undefined ? {} : { graphCode }), ...(cause === undefined ? {} : { cause }) };
  if (status === 429 || status >= 500 || status === 408 || status === 409 || status === 412 || status === 423) {
    const retryAfterMs = parseRetryAfterMs(retryAfter);
    return new GraphRequestError('transient', message, { ...options, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (status === 401 || status === 403) return new GraphRequestError('stop', message, options);
  if (status === 404) return new GraphRequestError('not_found', message, options);
  if (status === 410 || (graphCode !== undefined && deltaExpiredCodes.test(graphCode))) return new GraphRequestError('delta_expired', message, options);
  if (status === 400 && isConflict(error)) return new GraphRequestError('exists', message, options);
  return new GraphRequestError('bad_request', message, options);
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  if (typeof headers === 'object' && headers !== null) {
    const found = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
    return typeof found?.[1] === 'string' ? found[1] : undefined;
  }
  return undefined;
}

/**
 * The one place that turns whatever a Graph call threw into a GraphRequestError: our own errors
 * pass through, the SDK's GraphError is classified by `statusCode` before anything else, and a
 * failure without any HTTP answer is transient.
 */
export function translateGraphError(error: unknown): GraphRequestError {
  if (error instanceof GraphRequestError) return error;
  if (error instanceof GraphClientError && error.customError instanceof GraphRequestError) return error.customError;
  if (typeof error === 'object' && error !== null && 'statusCode' in error && typeof error.statusCode === 'number' && error.statusCode > 0) {
    const sdkError = error as { statusCode: number; body?: unknown; headers?: unknown };
    return classifyGraphResponse(sdkError.statusCode, sdkError.body, headerOf(sdkError.headers, 'retry-after'), error);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new GraphRequestError('transient', `Graph request failed without an answer: ${message}`, { cause: error });
}
