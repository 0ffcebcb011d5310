import type { HttpResponseInit } from '@azure/functions';
import { apiErrorStatus, type ApiError, type ErrorDetail } from '../../domain/errors';

/** What a route handler answers: JSON (the default), HTML for a person, plain text, or nothing. */
export type HttpResult =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Readonly<Record<string, string>> }
  | { readonly status: number; readonly html: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly status: number; readonly text: string; readonly headers?: Readonly<Record<string, string>> };

export function toResponse(result: HttpResult, correlationId: string): HttpResponseInit {
  const headers: Record<string, string> = { 'x-correlation-id': correlationId, 'cache-control': 'no-store', ...result.headers };
  if ('html' in result) {
    return { status: result.status, headers: { 'content-type': 'text/html; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers }, body: result.html };
  }
  if ('text' in result) {
    return { status: result.status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers }, body: result.text };
  }
  if (result.body === undefined) return { status: result.status, headers };
  return { status: result.status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(result.body) };
}

export function errorBody(error: ApiError): { error: { code: string; message: string; details?: readonly ErrorDetail[] } } {
  return { error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } };
}

export function errorResult(error: ApiError, headers?: Readonly<Record<string, string>>): HttpResult {
  return { status: apiErrorStatus[error.code], body: errorBody(error), ...(headers === undefined ? {} : { headers }) };
}
