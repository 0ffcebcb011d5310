import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { methodOf } from '../graph/graph-middleware-context';

/** Told of every request sent to Graph (each retry counts), with its answer's status or none. */
export interface GraphRequestObserver {
  graphRequest(connectionId: string | undefined, method: string, status: number | undefined): void;
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
