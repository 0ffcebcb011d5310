import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z, ZodType } from 'zod';
import { ApiError } from '../../domain/errors';
import type { Logger } from '../../domain/ports/logger';
import { authenticateApiKey, type Caller } from '../../domain/keys/api-keys';
import type { HttpFunctionDefinition, HttpMethod } from '../functions/definition';
import { getServices, type Services } from '../services';
import { errorResult, toResponse, type HttpResult } from './http-result';
import type { ResponseDoc, RouteAuth } from './openapi-registry';
import { validate } from './validation';

/** Bodies larger than this are refused with 413 before they are parsed. */
export const maxBodyBytes = 256 * 1024;

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
  /** `reader`: any valid key; `admin`: admin keys only; `none`: no key. */
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
  const declared = Number(header(request, 'content-length') ?? '0');
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    throw new ApiError('PAYLOAD_TOO_LARGE', `body: request body exceeds ${maxBodyBytes} bytes`, [{ field: 'body', message: `at most ${maxBodyBytes} bytes` }]);
  }
  const text = await request.text();
  if (Buffer.byteLength(text) > maxBodyBytes) {
    throw new ApiError('PAYLOAD_TOO_LARGE', `body: request body exceeds ${maxBodyBytes} bytes`, [{ field: 'body', message: `at most ${maxBodyBytes} bytes` }]);
  }
  if (text.trim() === '') return undefined;
  const contentType = header(request, 'content-type');
  if (contentType !== undefined && !/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'body: content-type must be application/json', [{ field: 'body', message: 'content-type must be application/json' }]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError('VALIDATION_FAILED', `body: malformed JSON (${(error as Error).message})`, [{ field: 'body', message: 'malformed JSON' }]);
  }
}

function queryObject(request: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  request.query.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

async function authenticate(spec: { auth: RouteAuth; method: HttpMethod }, request: HttpRequest, services: Services): Promise<Caller | undefined> {
  if (spec.auth === 'none') return undefined;
  const raw = header(request, 'x-api-key');
  if (raw === undefined || raw === '') throw new ApiError('UNAUTHENTICATED', 'x-api-key header is required');
  const caller = await authenticateApiKey(services, raw);
  if (caller === undefined) throw new ApiError('UNAUTHENTICATED', 'the API key is not valid');
  const needsAdmin = spec.auth === 'admin' || spec.method !== 'GET';
  if (needsAdmin && caller.role !== 'admin') throw new ApiError('FORBIDDEN', `a ${caller.role} key cannot call ${spec.method} routes; an admin key is required`);
  return caller;
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
      const caller = await authenticate(spec, request, services);
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
      if (error instanceof ApiError) {
        if (error.code === 'INTERNAL' || error.code === 'SERVICE_UNAVAILABLE') log.error(error.message, { code: error.code, cause: error.cause });
        return toResponse(errorResult(error), correlationId);
      }
      log.error('unhandled error', { error });
      return toResponse(errorResult(new ApiError('INTERNAL', `internal error; quote correlation id ${correlationId}`)), correlationId);
    }
  };
  return {
    kind: 'http',
    name: spec.name,
    route: spec.route,
    methods: [spec.method],
    handler,
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
