import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { Logger } from '../../domain/ports/logger';
import type { HttpFunctionDefinition } from '../functions/definition';
import { maxBodyBytes } from '../http/route';
import { RouteMatcher } from './route-matcher';

export interface LocalHttpServer {
  readonly url: string;
  /** Stop accepting, wait for in-flight requests up to graceMs, then drop what is left. */
  stop(graceMs: number): Promise<void>;
}

function jsonError(status: number, code: string, message: string, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify({ error: { code, message } }) };
}

/** Reads at most `limit + 1` bytes: enough for the route to see an over-long body and answer 413. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.pause();
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
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

/**
 * Serves the HTTP functions of the table like the Functions host: API functions under /api, `site`
 * functions (the console) at the root. A path under /api never falls through to a site function.
 */
export function startHttpServer(options: { port: number; host?: string; definitions: readonly HttpFunctionDefinition[]; logger: Logger }): Promise<LocalHttpServer> {
  const apiMatcher = new RouteMatcher(options.definitions.filter((d) => d.site !== true));
  const siteMatcher = new RouteMatcher(options.definitions.filter((d) => d.site === true));
  let inFlight = 0;
  let stopping = false;
  let drained: (() => void) | undefined;

  const server = http.createServer(async (req, res) => {
    inFlight += 1;
    try {
      if (stopping) res.setHeader('connection', 'close');
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
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
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req, maxBodyBytes);
      // The rest of an over-long body stays unread, so this connection cannot carry another request.
      if (body !== undefined && body.length > maxBodyBytes) res.setHeader('connection', 'close');
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
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
      const response = await match.definition.handler(request, context);
      await writeResponse(res, response);
    } catch (error) {
      options.logger.error('local host failed to serve a request', { error });
      if (!res.headersSent) await writeResponse(res, jsonError(500, 'INTERNAL', 'internal error'));
      else res.destroy();
    } finally {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    }
  });
  server.keepAliveTimeout = 5_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      resolve({
        url: `http://localhost:${port}/api`,
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
