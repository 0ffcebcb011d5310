import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z, ZodType } from 'zod';
import { ApiError } from '../../domain/errors';
import { InvalidCursorError } from '../../domain/ports/document-store';
import type { Logger } from '../../domain/ports/logger';
import { authenticateApiKey, type Caller } from '../../domain/keys/api-keys';
import type { HttpFunctionDefinition, HttpMethod } from '../functions/definition';
import { getServices, type Services } from '../services';
import { errorResult, toResponse, type HttpResult } from './http-result';
import type { ResponseDoc, RouteAuth } from './openapi-registry';
import { checkDeclaredLength, parseJsonBody } from './json-body';
import { validate } from './validation';

type Infer<S> = S extends ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly request: HttpRequest;
  readonly context: InvocationContext;
  readonly services: Services;
  /** The authenticated API key; undefined only on `auth: 'none'` routes. */
  readonly caller: Caller | undefined;
  readonly log: Logger;
  readonly correlationId: string;
}

export interface RouteSpec<PS extends ZodType | undefined, QS extends ZodType | undefined, BS extends ZodType | undefined> {
  /** Function name (unique, `[A-Za-z0-9_-]`). */
  readonly name: string;
  readonly method: HttpMethod;
  /** Relative to /api, Functions template syntax: `users/{id}`. */
  readonly route: string;
  /** `reader`: any valid key; `admin`: admin keys only; `none`: no key; `optional`: a key if one is presented (the handler sees the caller or undefined). */
  readonly auth: RouteAuth;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly params?: PS;
  readonly query?: QS;
  readonly body?: BS;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
  readonly handler: (input: RouteInput<Infer<PS>, Infer<QS>, Infer<BS>>) => Promise<HttpResult>;
}

function header(request: HttpRequest, name: string): string | undefined {
  return request.headers.get(name) ?? undefined;
}

async function readJsonBody(request: HttpRequest): Promise<unknown> {
  checkDeclaredLength(header(request, 'content-length'));
  return parseJsonBody(new Uint8Array(await request.arrayBuffer()), header(request, 'content-type'));
}

function queryObject(request: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  request.query.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

type HeaderReader = (name: string) => string | undefined;

async function authenticate(spec: { auth: RouteAuth; method: HttpMethod }, headerOf: HeaderReader, services: Services): Promise<Caller | undefined> {
  if (spec.auth === 'none') return undefined;
  const raw = headerOf('x-api-key');
  if (raw === undefined || raw === '') {
    if (spec.auth === 'optional') return undefined;
    throw new ApiError('UNAUTHENTICATED', 'x-api-key header is required');
  }
  const caller = await authenticateApiKey(services, raw);
  if (caller === undefined) throw new ApiError('UNAUTHENTICATED', 'the API key is not valid');
  const needsAdmin = spec.auth === 'admin' || spec.method !== 'GET';
  if (needsAdmin && caller.role !== 'admin') throw new ApiError('FORBIDDEN', `a ${caller.role} key cannot call ${spec.method} routes; an admin key is required`);
  return caller;
}

function toErrorResponse(error: unknown, log: Logger, correlationId: string): HttpResponseInit {
  if (error instanceof ApiError) {
    if (error.code === 'INTERNAL' || error.code === 'SERVICE_UNAVAILABLE') log.error(error.message, { code: error.code, cause: error.cause });
    return toResponse(errorResult(error), correlationId);
  }
  // Every list route takes a cursor in its query; a store that cannot read one is the client's error.
  if (error instanceof InvalidCursorError) {
    return toResponse(errorResult(new ApiError('VALIDATION_FAILED', 'query.cursor: not a cursor of this list', [{ field: 'query.cursor', message: 'not a cursor of this list' }])), correlationId);
  }
  log.error('unhandled error', { error });
  return toResponse(errorResult(new ApiError('INTERNAL', `internal error; quote correlation id ${correlationId}`)), correlationId);
}

/**
 * Defines one HTTP function: it validates params, query and body with the route's schemas
 * (the same schemas the OpenAPI document is generated from), checks the API key, calls the
 * handler and maps expected errors to the error shape of the HTTP contract.
 */
export function defineRoute<PS extends ZodType | undefined = undefined, QS extends ZodType | undefined = undefined, BS extends ZodType | undefined = undefined>(
  spec: RouteSpec<PS, QS, BS>,
): HttpFunctionDefinition {
  const handler = async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const correlationId = header(request, 'x-correlation-id')?.slice(0, 128) ?? context.invocationId ?? randomUUID();
    let services: Services;
    try {
      services = await getServices();
    } catch (error) {
      context.error('services unavailable', (error as Error).message);
      return toResponse(errorResult(new ApiError('SERVICE_UNAVAILABLE', 'the service is starting or a dependency is down')), correlationId);
    }
    const log = services.logger.child({ function: spec.name, invocationId: context.invocationId, correlationId });
    try {
      const caller = await authenticate(spec, (name) => header(request, name), services);
      const params = spec.params === undefined ? undefined : validate('params', spec.params, request.params);
      const query = spec.query === undefined ? undefined : validate('query', spec.query, queryObject(request));
      let body: unknown;
      if (spec.body !== undefined) body = validate('body', spec.body, await readJsonBody(request));
      const result = await spec.handler({
        params: params as Infer<PS>,
        query: query as Infer<QS>,
        body: body as Infer<BS>,
        request,
        context,
        services,
        caller,
        log,
        correlationId,
      });
      return toResponse(result, correlationId);
    } catch (error) {
      return toErrorResponse(error, log, correlationId);
    }
  };
  // Lets a host refuse a request by its headers alone, before it reads (and holds) the body.
  const admit = async (headers: Readonly<Record<string, string>>): Promise<HttpResponseInit | undefined> => {
    const correlationId = headers['x-correlation-id']?.slice(0, 128) ?? randomUUID();
    let services: Services;
    try {
      services = await getServices();
    } catch {
      return toResponse(errorResult(new ApiError('SERVICE_UNAVAILABLE', 'the service is starting or a dependency is down')), correlationId);
    }
    try {
      await authenticate(spec, (name) => headers[name], services);
      return undefined;
    } catch (error) {
      return toErrorResponse(error, services.logger.child({ function: spec.name, correlationId }), correlationId);
    }
  };
  return {
    kind: 'http',
    name: spec.name,
    route: spec.route,
    methods: [spec.method],
    handler,
    ...(spec.auth === 'none' ? {} : { admit }),
    doc: {
      name: spec.name,
      method: spec.method,
      route: spec.route,
      summary: spec.summary,
      tags: spec.tags,
      auth: spec.auth,
      ...(spec.params === undefined ? {} : { params: spec.params }),
      ...(spec.query === undefined ? {} : { query: spec.query }),
      ...(spec.body === undefined ? {} : { body: spec.body }),
      responses: spec.responses,
    },
  };
}
