import { ApiError } from '../errors';
import type { Result } from '../result';

/** The expected ways a directory use case fails; `code` narrows. */
export type DirectoryFailure =
  | { readonly code: 'user_not_found'; readonly userId: string }
  | { readonly code: 'group_not_found'; readonly groupId: string }
  | { readonly code: 'email_taken'; readonly email: string }
  | { readonly code: 'username_taken'; readonly username: string }
  | { readonly code: 'group_name_taken'; readonly name: string }
  | { readonly code: 'manager_not_found'; readonly managerId: string }
  | { readonly code: 'manager_is_self' }
  | { readonly code: 'email_change_refused'; readonly reason: string }
  | { readonly code: 'password_rejected'; readonly reason: string }
  /** The caller's If-Match no longer names the stored version. */
  | { readonly code: 'version_mismatch' }
  /** Other writers kept changing the document while this one retried. */
  | { readonly code: 'write_contention' }
  | { readonly code: 'invalid_cursor' };

/** The admin API's answer to a directory failure. */
export function directoryApiError(failure: DirectoryFailure): ApiError {
  switch (failure.code) {
    case 'user_not_found':
      return new ApiError('NOT_FOUND', `user ${failure.userId} not found`);
    case 'group_not_found':
      return new ApiError('NOT_FOUND', `group ${failure.groupId} not found`);
    case 'email_taken':
      return new ApiError('CONFLICT', `a user with email ${failure.email} already exists`, [{ field: 'body.email', message: 'already in use' }]);
    case 'username_taken':
      return new ApiError('CONFLICT', `a user with username ${failure.username} already exists`, [{ field: 'body.username', message: 'already in use' }]);
    case 'group_name_taken':
      return new ApiError('CONFLICT', `a group named ${failure.name} already exists`, [{ field: 'body.name', message: 'already in use' }]);
    case 'manager_not_found':
      return new ApiError('UNPROCESSABLE', `body.managerId: user ${failure.managerId} does not exist`, [{ field: 'body.managerId', message: 'no such user' }]);
    case 'manager_is_self':
      return new ApiError('UNPROCESSABLE', 'body.managerId: a user cannot be its own manager', [{ field: 'body.managerId', message: 'cannot be the user itself' }]);
    case 'email_change_refused':
      return new ApiError('CONFLICT', `the email cannot change: ${failure.reason}`, [{ field: 'body.email', message: failure.reason }]);
    case 'password_rejected':
      return new ApiError('VALIDATION_FAILED', `body.password: ${failure.reason}`, [{ field: 'body.password', message: failure.reason }]);
    case 'version_mismatch':
      return new ApiError('PRECONDITION_FAILED', 'the resource changed since the ETag given in If-Match; read it again');
    case 'write_contention':
      return new ApiError('CONFLICT', 'the resource is being changed concurrently; try again');
    case 'invalid_cursor':
      return new ApiError('VALIDATION_FAILED', 'query.cursor: not a cursor of this list', [{ field: 'query.cursor', message: 'not a cursor of this list' }]);
  }
}

/** The value of a use case's result, or its failure thrown as the admin API's error (for route handlers). */
export function valueOrApiError<T>(result: Result<T, DirectoryFailure>): T {
  if (!result.ok) throw directoryApiError(result.error);
  return result.value;
}
