import { getRefId, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { ZodType } from 'zod';
import type { HttpMethod } from '../functions/definition';

export type RouteAuth = 'none' | 'optional' | 'reader' | 'admin';

export interface ResponseDoc {
  readonly description: string;
  readonly schema?: ZodType;
  /** Defaults to application/json. */
  readonly contentType?: string;
}

/** What the OpenAPI document says of one route; built from the same schemas that validate it. */
export interface RouteDoc {
  /** The function name; the operation id and component names derive from it. */
  readonly name: string;
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

const pascal = (name: string): string => name.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_match, _sep: string, letter: string) => letter.toUpperCase());

/**
 * Builds the OpenAPI 3.1 document of every documented route. Every response body is a named
 * component under `components/schemas` referenced with `$ref`: shared schemas by the id they were
 * defined with (`User`, `Error`...), the others after their route (`UsersListResponse`). Request
 * bodies stay inline unless named where defined: a field with a default is optional in a request and
 * present in a response, and code generators read a component's defaults as present.
 */
export function buildOpenApiDocument(
  routes: readonly RouteDoc[],
  info: { title: string; version: string; description: string; serverUrl?: string; tags: Readonly<Record<string, string>> },
): object {
  const registry = new OpenAPIRegistry();
  const apiKey = registry.registerComponent('securitySchemes', 'apiKey', { type: 'apiKey', in: 'header', name: 'x-api-key' });
  const registered = new Map<ZodType, ZodType>();
  const named = (schema: ZodType, name: string): ZodType => {
    if (getRefId(schema) !== undefined) return schema;
    let component = registered.get(schema);
    if (component === undefined) {
      // A copy carrying the name: the route's own schema stays as it was.
      component = schema.meta({ ...schema.meta(), id: name });
      registered.set(schema, component);
    }
    return component;
  };
  for (const route of routes) {
    const base = pascal(route.name);
    const responses: Record<string, { description: string; content?: Record<string, { schema: ZodType }> }> = {};
    const successStatuses = Object.entries(route.responses).filter(([status, response]) => Number(status) < 300 && response.schema !== undefined);
    for (const [status, response] of Object.entries(route.responses)) {
      const name = successStatuses.length > 1 ? `${base}${status}Response` : `${base}Response`;
      responses[status] = response.schema === undefined
        ? { description: response.description }
        : { description: response.description, content: { [response.contentType ?? 'application/json']: { schema: named(response.schema, name) } } };
    }
    registry.registerPath({
      method: route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete',
      path: `/api/${route.route}`,
      operationId: base.charAt(0).toLowerCase() + base.slice(1),
      summary: route.summary,
      tags: [...route.tags],
      // An empty requirement makes the key optional.
      security: route.auth === 'none' ? [] : route.auth === 'optional' ? [{}, { [apiKey.name]: [] }] : [{ [apiKey.name]: [] }],
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
  const used = [...new Set(routes.flatMap((route) => route.tags))].sort();
  const undescribed = used.filter((tag) => info.tags[tag] === undefined);
  if (undescribed.length > 0) throw new TypeError(`OpenAPI tags without a description: ${undescribed.join(', ')}`);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description },
    // Paths carry the /api prefix, so the server is the origin the document was read from.
    servers: [{ url: info.serverUrl ?? '/' }],
    tags: used.map((name) => ({ name, description: info.tags[name]! })),
  });
}
