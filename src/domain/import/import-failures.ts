import { ApiError } from '../errors';
import type { DirectoryReadFailure } from './m365-directory';

/** The expected ways a preview or an import request fails; `code` narrows. */
export type ImportFailure =
  | { readonly code: 'connection_not_found'; readonly message: string }
  /** Pending consent, waiting for re-consent, or de-authorized: there is no tenant to read. */
  | { readonly code: 'connection_not_active'; readonly message: string }
  | { readonly code: 'job_not_found'; readonly message: string }
  | { readonly code: 'invalid_cursor'; readonly message: string }
  /** Graph did not answer in time or throttled us; worth trying again shortly. */
  | { readonly code: 'm365_unavailable'; readonly message: string }
  /** Graph refused the read (permissions, a bad request). */
  | { readonly code: 'm365_refused'; readonly message: string };

/** The request-time answer to a failed Graph read (a queue handler decides for itself). */
export function readFailure(failure: DirectoryReadFailure): ImportFailure {
  switch (failure.kind) {
    case 'invalid_link':
      return { code: 'invalid_cursor', message: 'query.cursor: not a cursor of this list' };
    case 'transient':
      return { code: 'm365_unavailable', message: `Microsoft 365 did not answer: ${failure.message}` };
    case 'stop':
      return failure.reauthorizationRequired
        ? { code: 'connection_not_active', message: 'the connection needs a Global Administrator to consent again before its tenant can be read' }
        : { code: 'm365_refused', message: `Microsoft 365 refused the read: ${failure.message}` };
    case 'not_found':
    case 'exists':
    case 'permanent':
      return { code: 'm365_refused', message: `Microsoft 365 refused the read: ${failure.message}` };
  }
}

/** The admin API's answer to an import failure. */
export function importApiError(failure: ImportFailure): ApiError {
  switch (failure.code) {
    case 'connection_not_found':
    case 'job_not_found':
      return new ApiError('NOT_FOUND', failure.message);
    case 'connection_not_active':
      return new ApiError('CONFLICT', failure.message);
    case 'invalid_cursor':
      return new ApiError('VALIDATION_FAILED', failure.message, [{ field: 'query.cursor', message: 'not a cursor of this list' }]);
    case 'm365_unavailable':
      return new ApiError('SERVICE_UNAVAILABLE', failure.message);
    case 'm365_refused':
      return new ApiError('UNPROCESSABLE', failure.message);
  }
}
