import type { HttpRequest } from '@azure/functions';

/** The `ETag` response header for a stored version (quoted, as HTTP wants it). */
export function etagHeader(etag: string): { etag: string } {
  return { etag: `"${etag.replace(/^"(.*)"$/, '$1')}"` };
}

/** The version a client pinned with `If-Match`; `*` (any version) pins none. */
export function ifMatchOf(request: HttpRequest): string | undefined {
  const value = request.headers.get('if-match')?.trim();
  return value === undefined || value === '' || value === '*' ? undefined : value;
}
