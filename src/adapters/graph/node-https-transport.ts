import http from 'node:http';
import https from 'node:https';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { carry, GraphRequestError } from './graph-error-translator';
import { methodOf } from './graph-middleware-context';

export interface NodeHttpsTransportOptions {
  /** Keep-alive agent for https URLs (in sandbox mode the one trusting the loopback certificate). */
  readonly httpsAgent: https.Agent;
  /** For plain-http test doubles; keep-alive too. */
  readonly httpAgent?: http.Agent;
  /** No answer within this time is a lost connection. */
  readonly timeoutMs: number;
}

const bodylessStatuses = new Set([101, 204, 205, 304]);

function headersOf(context: Context): Record<string, string> {
  const headers = context.options?.headers;
  const out: Record<string, string> = {};
  if (headers instanceof Headers) headers.forEach((value, key) => (out[key] = value));
  else if (Array.isArray(headers)) for (const [key, value] of headers as [string, string][]) out[key] = value;
  else if (headers !== undefined) Object.assign(out, headers);
  return out;
}

function bodyOf(context: Context): Buffer | undefined {
  const body = context.options?.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('the Graph transport sends string or binary bodies only');
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

function chunkStream(chunks: readonly Buffer[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/**
 * The last middleware: sends the request over node:http(s) with a keep-alive agent, so connections
 * to Graph are reused across requests (global fetch cannot be given the sandbox's CA, and an
 * explicit agent makes reuse visible and tunable). Lost connections become transient errors.
 */
export class NodeHttpsTransport implements Middleware {
  constructor(private readonly options: NodeHttpsTransportOptions) {}

  execute(context: Context): Promise<void> {
    const url = new URL(typeof context.request === 'string' ? context.request : context.request.url);
    const method = methodOf(context);
    const body = bodyOf(context);
    const headers = headersOf(context);
    if (body !== undefined) headers['content-length'] = String(body.length);
    const secure = url.protocol === 'https:';
    const agent = secure ? this.options.httpsAgent : this.options.httpAgent;
    if (agent === undefined) return Promise.reject(new TypeError(`no agent for ${url.protocol} URLs`));
    const send = secure ? https.request : http.request;

    return new Promise<void>((resolve, reject) => {
      const request = send(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => reject(carry(new GraphRequestError('transient', `Graph connection failed while reading the answer: ${error.message}`, { cause: error }))));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          // The chunks as they came: a joined Buffer would be copied again by Response, then again when read.
          const content = bodylessStatuses.has(status) || method === 'HEAD' ? null : chunkStream(chunks);
          context.response = new Response(content, { status, statusText: res.statusMessage ?? '', headers: toHeaders(res.headers) });
          resolve();
        });
      });
      request.setTimeout(this.options.timeoutMs, () => request.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      request.on('error', (error) => reject(carry(new GraphRequestError('transient', `Graph connection failed: ${error.message}`, { cause: error }))));
      request.end(body);
    });
  }
}
