import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { methodOf } from '../graph/graph-middleware-context';

/**
 * Told of every request sent to Graph (each retry counts), with its answer's status or none; the
 * requests inside a `$batch` are told of too (`batched`), each with the status Graph gave it, since
 * Graph throttles them one by one inside an envelope that answers 200.
 */
export interface GraphRequestObserver {
  graphRequest(connectionId: string | undefined, method: string, status: number | undefined, batched?: boolean): void;
}

/** The method and status of each request of a `$batch` its answer names, or none when it cannot be read. */
async function batchParts(context: Context, response: Response): Promise<{ method: string; status: number }[]> {
  try {
    const body = context.options?.body;
    const sent = typeof body === 'string' ? (JSON.parse(body) as { requests?: { id?: unknown; method?: unknown }[] }).requests ?? [] : [];
    const methods = new Map(sent.map((r) => [String(r.id), typeof r.method === 'string' ? r.method.toUpperCase() : 'GET']));
    const answered = ((await response.clone().json()) as { responses?: { id?: unknown; status?: unknown }[] }).responses ?? [];
    return answered.filter((r) => typeof r.status === 'number').map((r) => ({ method: methods.get(String(r.id)) ?? 'GET', status: r.status as number }));
  } catch {
    return [];
  }
}

const tracer = trace.getTracer('m365-bridge.graph');

/**
 * One client span per request sent to Graph, with its status and the throttling headers
 * (`Retry-After`, `x-ms-throttle-scope`, `x-ms-resource-unit`); sits next to the transport so each
 * attempt of a retried request is its own span. The path is kept, the query string is not.
 */
export class GraphTelemetryMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(
    private readonly connectionId: string | undefined,
    private readonly observer: GraphRequestObserver | undefined,
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (next === undefined) throw new TypeError('GraphTelemetryMiddleware needs a next middleware');
    const method = methodOf(context);
    const url = new URL(typeof context.request === 'string' ? context.request : context.request.url);
    await tracer.startActiveSpan(`${method} ${url.pathname}`, { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'server.address': url.hostname, 'url.path': url.pathname, ...(this.connectionId === undefined ? {} : { 'm365bridge.connection_id': this.connectionId }) } }, async (span) => {
      try {
        await next.execute(context);
        const response = context.response;
        this.observer?.graphRequest(this.connectionId, method, response?.status);
        if (response !== undefined && method === 'POST' && url.pathname.endsWith('/$batch') && response.status === 200) {
          const parts = await batchParts(context, response);
          for (const part of parts) this.observer?.graphRequest(this.connectionId, part.method, part.status, true);
          span.setAttribute('m365bridge.batch.requests', parts.length);
          span.setAttribute('m365bridge.batch.throttled', parts.filter((part) => part.status === 429).length);
        }
        if (response !== undefined) {
          span.setAttribute('http.response.status_code', response.status);
          for (const header of ['retry-after', 'x-ms-throttle-scope', 'x-ms-resource-unit', 'request-id']) {
            const value = response.headers.get(header);
            if (value !== null) span.setAttribute(`http.response.header.${header}`, value);
          }
          if (response.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${response.status}` });
        }
      } catch (error) {
        this.observer?.graphRequest(this.connectionId, method, undefined);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    });
  }
}
