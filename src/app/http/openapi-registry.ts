import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { ZodType } from 'zod';
import type { HttpMethod } from '../functions/definition';

export type RouteAuth = 'none' | 'reader' | 'admin';

export interface ResponseDoc {
  readonly description: string;
  readonly schema?: ZodType;
  /** Defaults to application/json. */
  readonly contentType?: string;
}

/** What the OpenAPI document says of one route; built from the same schemas that validate it. */
export interface RouteDoc {
  readonly method: HttpMethod;
  /** Relative to /api, Functions template syntax (`users/{id}`); same as the OpenAPI path syntax. */
  readonly route: string;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly auth: RouteAuth;
  readonly params?: ZodType;
  readonly query?: ZodType;
  readonly body?: ZodType;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
}

/** Builds the OpenAPI 3.1 document of every documented route. */
export function buildOpenApiDocument(routes: readonly RouteDoc[], info: { title: string; version: string; serverUrl?: string }): object {
  const registry = new OpenAPIRegistry();
  const apiKey = registry.registerComponent('securitySchemes', 'apiKey', { type: 'apiKey', in: 'header', name: 'x-api-key' });
  for (const route of routes) {
    const responses: Record<string, { description: string; content?: Record<string, { schema: ZodType }> }> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = response.schema === undefined
        ? { description: response.description }
        : { description: response.description, content: { [response.contentType ?? 'application/json']: { schema: response.schema } } };
    }
    registry.registerPath({
      method: route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete',
      path: `/api/${route.route}`,
      summary: route.summary,
      tags: [...route.tags],
      security: route.auth === 'none' ? [] : [{ [apiKey.name]: [] }],
      request: {
        ...(route.params === undefined ? {} : { params: route.params as never }),
        ...(route.query === undefined ? {} : { query: route.query as never }),
        // A body schema that accepts no body at all (an optional one) makes the body optional.
        ...(route.body === undefined ? {} : { body: { required: !route.body.safeParse(undefined).success, content: { 'application/json': { schema: route.body } } } }),
      },
      responses,
    });
  }
  const generator = new OpenApiGeneratorV31(registry.definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: { title: info.title, version: info.version },
    ...(info.serverUrl === undefined ? {} : { servers: [{ url: info.serverUrl }] }),
  });
}
