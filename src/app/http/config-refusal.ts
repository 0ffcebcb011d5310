import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ConfigError } from '../config';
import { ApiError } from '../../domain/errors';
import { errorResult, toResponse } from './http-result';

/**
 * The handler every HTTP function gets while the configuration is invalid: 503 naming the variable
 * (not its value), and the full message in the host log on every call.
 */
export function configRefusal(problem: ConfigError): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (_request, context) => {
    context.error(`m365-bridge is not running: ${problem.message}`);
    return toResponse(errorResult(new ApiError('SERVICE_UNAVAILABLE', `the service is not configured: ${problem.variable} is invalid; the host log says why`)), context.invocationId);
  };
}
