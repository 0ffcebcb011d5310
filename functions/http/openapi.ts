import { defineRoute } from '../../src/app/http/route';
import { buildOpenApiDocument, type RouteDoc } from '../../src/app/http/openapi-registry';
import type { FunctionDefinition } from '../../src/app/functions/definition';

let cached: object | undefined;

/** The OpenAPI document of a function table's API routes (the console's types are generated from it at build time). */
export function openApiDocumentOf(table: readonly FunctionDefinition[]): object {
  const docs = table.flatMap((definition) => (definition.kind === 'http' && definition.doc !== undefined ? [definition.doc as RouteDoc] : []));
  return buildOpenApiDocument(docs, { title: 'm365-bridge admin API', version: '1.0.0' });
}

export const openApi = defineRoute({
  name: 'openapi',
  method: 'GET',
  route: 'openapi.json',
  auth: 'none',
  summary: 'The OpenAPI 3.1 document of every route',
  tags: ['operations'],
  responses: { 200: { description: 'OpenAPI 3.1 document' } },
  handler: async () => {
    if (cached === undefined) {
      // Imported lazily: the table includes this very function.
      const { functionTable } = await import('../table');
      cached = openApiDocumentOf(functionTable);
    }
    return { status: 200, body: cached };
  },
});
