import type { Client } from '@microsoft/microsoft-graph-client';
import { classifyGraphResponse, translateGraphError, type GraphRequestError } from './graph-error-translator';

/** Graph's limit of requests in one `$batch`. */
export const maxBatchRequests = 20;

export interface GraphRequestOptions {
  /** Extra request headers (`ConsistencyLevel: eventual`...). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One request of a `$batch`; `url` is relative to the version (`/users/{id}`). */
export interface GraphBatchRequest {
  readonly id: string;
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly dependsOn?: readonly string[];
}

/** One answer of a `$batch`, in the order of the requests; `error` is set for a non-2xx status. */
export interface GraphBatchResponse<T = unknown> {
  readonly id: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: T | undefined;
  readonly error?: GraphRequestError;
}

/** A page of a collection; `deltaLink` ends a delta round. */
export interface GraphPage<T> {
  readonly value: readonly T[];
  readonly nextLink?: string;
  readonly deltaLink?: string;
}

/**
 * Microsoft Graph v1.0 for one connection (or one access token). Every method throws only
 * GraphRequestError, already classified by the one translator.
 */
export interface GraphClient {
  get<T>(path: string, options?: GraphRequestOptions): Promise<T>;
  post<T>(path: string, body: unknown, options?: GraphRequestOptions): Promise<T>;
  /** Graph answers most PATCHes with 204: the result is then undefined. */
  patch<T = undefined>(path: string, body: unknown, options?: GraphRequestOptions): Promise<T>;
  put<T = undefined>(path: string, body: unknown, options?: GraphRequestOptions): Promise<T>;
  delete(path: string, options?: GraphRequestOptions): Promise<void>;
  /** Each page of a collection (or a delta round), following `@odata.nextLink`. `path` may be a full next/delta link. */
  pages<T>(path: string, options?: GraphRequestOptions): AsyncGenerator<GraphPage<T>>;
  /** Every item of a collection, following `@odata.nextLink`. */
  all<T>(path: string, options?: GraphRequestOptions): Promise<T[]>;
  /** Up to 20 requests in one `$batch` round trip; per-request failures are classified, not thrown. */
  batch<T = unknown>(requests: readonly GraphBatchRequest[]): Promise<GraphBatchResponse<T>[]>;
  /** The SDK client on the same middleware chain, for what the helpers above do not cover; translate its errors with translateGraphError. */
  readonly sdk: Client;
}

interface RawPage<T> {
  readonly value?: readonly T[];
  readonly '@odata.nextLink'?: string;
  readonly '@odata.deltaLink'?: string;
}

interface RawBatchResponse {
  readonly responses?: readonly { readonly id: string; readonly status: number; readonly headers?: Record<string, string>; readonly body?: unknown }[];
}

function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  return Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

/** Wraps an SDK client built on our middleware chain. */
export class SdkGraphClient implements GraphClient {
  private readonly versionRoot: string;

  /** `graphBaseUrl` is GRAPH_BASE_URL: links Graph returns under it are followed as paths. */
  constructor(
    readonly sdk: Client,
    graphBaseUrl: string,
  ) {
    this.versionRoot = `${graphBaseUrl.replace(/\/+$/, '')}/v1.0`;
  }

  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateGraphError(error);
    }
  }

  private request(path: string, options: GraphRequestOptions | undefined) {
    // The SDK parses absolute https links itself but not http ones (test doubles): hand it the path.
    const relative = path.startsWith(`${this.versionRoot}/`) ? path.slice(this.versionRoot.length) : path;
    const request = this.sdk.api(relative);
    if (options?.headers !== undefined) request.headers({ ...options.headers });
    return request;
  }

  get<T>(path: string, options?: GraphRequestOptions): Promise<T> {
    return this.run(() => this.request(path, options).get() as Promise<T>);
  }

  post<T>(path: string, body: unknown, options?: GraphRequestOptions): Promise<T> {
    return this.run(() => this.request(path, options).post(body) as Promise<T>);
  }

  patch<T = undefined>(path: string, body: unknown, options?: GraphRequestOptions): Promise<T> {
    return this.run(() => this.request(path, options).patch(body) as Promise<T>);
  }

  put<T = undefined>(path: string, body: unknown, options?: GraphRequestOptions): Promise<T> {
    return this.run(() => this.request(path, options).put(body) as Promise<T>);
  }

  async delete(path: string, options?: GraphRequestOptions): Promise<void> {
    await this.run(() => this.request(path, options).delete() as Promise<unknown>);
  }

  async *pages<T>(path: string, options?: GraphRequestOptions): AsyncGenerator<GraphPage<T>> {
    let next: string | undefined = path;
    while (next !== undefined) {
      const raw: RawPage<T> = await this.get<RawPage<T>>(next, options);
      const nextLink = raw['@odata.nextLink'];
      const deltaLink = raw['@odata.deltaLink'];
      yield { value: raw.value ?? [], ...(nextLink === undefined ? {} : { nextLink }), ...(deltaLink === undefined ? {} : { deltaLink }) };
      next = nextLink;
    }
  }

  async all<T>(path: string, options?: GraphRequestOptions): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.pages<T>(path, options)) items.push(...page.value);
    return items;
  }

  async batch<T = unknown>(requests: readonly GraphBatchRequest[]): Promise<GraphBatchResponse<T>[]> {
    if (requests.length === 0) return [];
    if (requests.length > maxBatchRequests) throw new TypeError(`a $batch takes at most ${maxBatchRequests} requests, got ${requests.length}`);
    if (new Set(requests.map((r) => r.id)).size !== requests.length) throw new TypeError('$batch request ids must be unique');
    const payload = {
      requests: requests.map((r) => ({
        id: r.id,
        method: r.method,
        url: r.url,
        ...(r.body === undefined ? {} : { body: r.body, headers: { 'Content-Type': 'application/json', ...r.headers } }),
        ...(r.body === undefined && r.headers !== undefined ? { headers: r.headers } : {}),
        ...(r.dependsOn === undefined ? {} : { dependsOn: r.dependsOn }),
      })),
    };
    const answer = await this.post<RawBatchResponse>('/$batch', payload);
    const byId = new Map((answer.responses ?? []).map((r) => [r.id, r]));
    return requests.map((r) => {
      const item = byId.get(r.id);
      if (item === undefined) {
        return { id: r.id, status: 0, headers: {}, body: undefined, error: classifyGraphResponse(503, { error: { code: 'MissingBatchResponse', message: `$batch answered nothing for request ${r.id}` } }, undefined) };
      }
      const headers = item.headers ?? {};
      const failed = item.status >= 400;
      return {
        id: r.id,
        status: item.status,
        headers,
        body: item.body as T | undefined,
        ...(failed ? { error: classifyGraphResponse(item.status, item.body, headerValue(headers, 'retry-after')) } : {}),
      };
    });
  }
}
