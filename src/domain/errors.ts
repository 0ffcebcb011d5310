/** The closed set of error codes the admin API answers with (DESIGN.md, HTTP contract). */
export type ApiErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'UNPROCESSABLE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL';

export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. `body.email` or `query.limit`. */
  readonly field: string;
  readonly message: string;
}

/** An expected failure of a use case, mapped one-to-one onto an HTTP error response. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details: readonly ErrorDetail[] | undefined;

  constructor(code: ApiErrorCode, message: string, details?: readonly ErrorDetail[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }
}

export const apiErrorStatus: Readonly<Record<ApiErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * Thrown by a queue handler for a message that can never succeed (malformed, invalid):
 * the host dead-letters it at once with `reason` instead of retrying.
 */
export class PoisonMessageError extends Error {
  readonly code = 'POISON_MESSAGE' as const;
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'PoisonMessageError';
    this.reason = reason;
  }
}
