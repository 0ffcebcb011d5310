import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { Logger } from '../../domain/ports/logger';
import type { HttpFunctionDefinition } from '../functions/definition';
import { maxBodyBytes } from '../http/json-body';
import { RouteMatcher } from './route-matcher';
import { tracedHttpHandler } from '../functions/traced';

export interface LocalHttpServer {
  readonly url: string;
  /** Request body bytes read and held right now, all requests together (the budget `maxBodyBytesInFlight` caps). */
  bodyBytesHeld(): number;
  /** Stop accepting, wait for in-flight requests up to graceMs, then drop what is left. */
  stop(graceMs: number): Promise<void>;
}

function jsonError(status: number, code: string, message: string, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify({ error: { code, message } }) };
}

function fieldError(field: string, problem: string): HttpResponseInit {
  return { status: 400, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: `${field}: ${problem}`, details: [{ field, message: problem }] } }) };
}

/** Every request body being read is counted here, so many slow uploads together cannot hold more than the budget. */
class BodyBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get held(): number {
    return this.used;
  }

  take(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

class ClientAborted extends Error {}
class BudgetExhausted extends Error {}

/**
 * Reads at most `limit + 1` bytes: enough for the route to see an over-long body and answer 413.
 * Each chunk is charged to the shared budget (`charged` says how much, for the caller to give back).
 */
function readBody(req: http.IncomingMessage, limit: number, budget: BodyBudget, charged: { bytes: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (outcome: Buffer | Error): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (outcome instanceof Error) {
        chunks.length = 0;
        reject(outcome);
      } else resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      if (!budget.take(chunk.length)) {
        req.pause();
        finish(new BudgetExhausted());
        return;
      }
      charged.bytes += chunk.length;
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish(Buffer.concat(chunks));
      }
    };
    req.on('data', onData);
    req.on('end', () => finish(Buffer.concat(chunks)));
    req.on('error', () => finish(new ClientAborted()));
    req.on('close', () => finish(new ClientAborted()));
  });
}

async function writeResponse(res: http.ServerResponse, response: HttpResponseInit): Promise<void> {
  const headers: Record<string, string> = {};
  if (response.headers instanceof Headers) response.headers.forEach((value, key) => (headers[key] = value));
  else if (response.headers !== undefined) Object.assign(headers, response.headers as Record<string, string>);
  let body: Buffer | undefined;
  if (response.jsonBody !== undefined) {
    body = Buffer.from(JSON.stringify(response.jsonBody));
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else if (typeof response.body === 'string') body = Buffer.from(response.body);
  else if (response.body instanceof Uint8Array) body = Buffer.from(response.body);
  else if (response.body !== undefined && response.body !== null) throw new TypeError('unsupported response body type in the local host');
  if (body !== undefined) headers['content-length'] = String(body.length);
  res.writeHead(response.status ?? 200, headers);
  res.end(body);
}

/** Body bytes all requests together may hold while they are read: 64 bodies of the largest size. */
const defaultMaxBodyBytesInFlight = 64 * maxBodyBytes;

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** The request's URL, or undefined when its Host header is not a host. */
function requestUrl(req: http.IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    return undefined;
  }
}

/**
 * Serves the HTTP functions of the table like the Functions host: API functions under /api, `site`
 * functions (the console) at the root. A path under /api never falls through to a site function.
 */
export function startHttpServer(options: { port: number; host?: string; definitions: readonly HttpFunctionDefinition[]; logger: Logger; maxBodyBytesInFlight?: number }): Promise<LocalHttpServer> {
  const handlers = new Map(options.definitions.map((definition) => [definition, tracedHttpHandler(definition)]));
  const apiMatcher = new RouteMatcher(options.definitions.filter((d) => d.site !== true));
  const siteMatcher = new RouteMatcher(options.definitions.filter((d) => d.site === true));
  const budget = new BodyBudget(options.maxBodyBytesInFlight ?? defaultMaxBodyBytesInFlight);
  let inFlight = 0;
  let stopping = false;
  let drained: (() => void) | undefined;

  const server = http.createServer(async (req, res) => {
    inFlight += 1;
    const charged = { bytes: 0 };
    try {
      if (stopping) res.setHeader('connection', 'close');
      const url = requestUrl(req);
      if (url === undefined) {
        res.setHeader('connection', 'close');
        await writeResponse(res, fieldError('headers.host', 'not a valid host'));
        return;
      }
      const underApi = url.pathname.startsWith('/api/');
      const match = underApi ? apiMatcher.match(req.method ?? 'GET', url.pathname.slice('/api/'.length)) : siteMatcher.match(req.method ?? 'GET', url.pathname.slice(1));
      if (match.kind === 'not_found') {
        await writeResponse(res, jsonError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`));
        return;
      }
      if (match.kind === 'method_not_allowed') {
        await writeResponse(res, jsonError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`, { allow: match.allowed.join(', ') }));
        return;
      }
      if (match.kind === 'bad_parameter') {
        await writeResponse(res, fieldError(`params.${match.name}`, 'malformed percent-encoding'));
        return;
      }
      const headers = headersOf(req);
      const readsBody = req.method !== 'GET' && req.method !== 'HEAD';
      // The key is checked before a byte of the body is read: an unauthenticated upload holds nothing.
      const refusal = readsBody ? await match.definition.admit?.(headers) : undefined;
      if (refusal !== undefined) {
        res.setHeader('connection', 'close');
        await writeResponse(res, refusal);
        return;
      }
      const body = readsBody ? await readBody(req, maxBodyBytes, budget, charged) : undefined;
      // The rest of an over-long body stays unread, so this connection cannot carry another request.
      if (body !== undefined && body.length > maxBodyBytes) res.setHeader('connection', 'close');
      const query: Record<string, string> = {};
      url.searchParams.forEach((value, key) => (query[key] = value));
      const request = new HttpRequest({
        method: req.method ?? 'GET',
        url: url.toString(),
        headers,
        query,
        params: match.params,
        ...(body === undefined ? {} : { body: { bytes: body } }),
      });
      const invocationId = randomUUID();
      const context = new InvocationContext({
        invocationId,
        functionName: match.definition.name,
        logHandler: (level, ...args) => options.logger[level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug'](args.map(String).join(' '), { invocationId }),
      });
      const response = await (handlers.get(match.definition) ?? match.definition.handler)(request, context);
      await writeResponse(res, response);
    } catch (error) {
      if (error instanceof ClientAborted) {
        // A client that gives up mid-upload is routine, not a fault of the service.
        options.logger.debug('client closed the connection before its request body arrived', { method: req.method, path: req.url?.split('?')[0], bytesRead: charged.bytes });
        res.destroy();
      } else if (error instanceof BudgetExhausted) {
        res.setHeader('connection', 'close');
        await writeResponse(res, jsonError(503, 'SERVICE_UNAVAILABLE', 'too many request bodies are being received at once; retry shortly', { 'retry-after': '1' }));
      } else {
        options.logger.error('local host failed to serve a request', { error });
        if (!res.headersSent) await writeResponse(res, jsonError(500, 'INTERNAL', 'internal error'));
        else res.destroy();
      }
    } finally {
      budget.give(charged.bytes);
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    }
  });
  // What Node's parser refuses (headers over 16 KB, a malformed request line) gets the API's error
  // body too, not an empty answer.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: tooLarge ? 'headers: the request line and headers exceed 16 KB' : 'the request is not valid HTTP' } });
    socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  server.keepAliveTimeout = 5_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      resolve({
        url: `http://localhost:${port}/api`,
        bodyBytesHeld: () => budget.held,
        async stop(graceMs) {
          stopping = true;
          const closed = new Promise<void>((done) => server.close(() => done()));
          server.closeIdleConnections();
          if (inFlight > 0) {
            await Promise.race([new Promise<void>((done) => (drained = done)), new Promise((done) => setTimeout(done, graceMs).unref())]);
          }
          server.closeAllConnections();
          await closed;
        },
      });
    });
  });
}
