import { ApiError } from '../errors';
import type { BindingRefusal } from './bind-user';
import type { BindingQueryFailure } from './binding-queries';

/** The admin API's answer to a refused bind, unbind or binding query. */
export function bindingApiError(failure: BindingRefusal | BindingQueryFailure): ApiError {
  switch (failure.code) {
    case 'connection_not_found':
    case 'user_not_found':
    case 'group_not_found':
    case 'binding_not_found':
      return new ApiError('NOT_FOUND', failure.message);
    case 'connection_not_active':
    case 'bound_elsewhere':
    case 'bound_through_group':
      return new ApiError('CONFLICT', failure.message);
    case 'domain_not_claimed':
      return new ApiError('UNPROCESSABLE', failure.message);
    case 'invalid_cursor':
      return new ApiError('VALIDATION_FAILED', failure.message, [{ field: 'query.cursor', message: 'not a cursor of this list' }]);
  }
}
