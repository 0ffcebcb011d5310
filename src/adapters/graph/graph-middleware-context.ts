import type { Context } from '@microsoft/microsoft-graph-client';

/** The request method of a middleware context (GET when unset, as fetch does). */
export function methodOf(context: Context): string {
  return (context.options?.method ?? 'GET').toUpperCase();
}

/** Sets a request header whatever shape the SDK gave the headers (object, Headers or pairs). */
export function setRequestHeader(context: Context, name: string, value: string): void {
  const options = (context.options ??= {});
  const headers = options.headers;
  if (headers instanceof Headers) {
    headers.set(name, value);
    return;
  }
  const record: Record<string, string> = {};
  if (Array.isArray(headers)) for (const [key, v] of headers as [string, string][]) record[key] = v;
  else if (headers !== undefined) Object.assign(record, headers);
  for (const key of Object.keys(record)) if (key.toLowerCase() === name.toLowerCase()) delete record[key];
  record[name] = value;
  options.headers = record;
}

/** Reads and discards a response body so its socket can serve the next request. */
export async function discardBody(response: Response | undefined): Promise<void> {
  if (response !== undefined && response.body !== null && !response.bodyUsed) await response.arrayBuffer().catch(() => undefined);
}
