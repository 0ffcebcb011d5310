import { defineRoute } from '../../src/app/http/route';
import { buildOpenApiDocument, type RouteDoc } from '../../src/app/http/openapi-registry';

let cached: object | undefined;

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
      const docs = functionTable.flatMap((definition) => (definition.kind === 'http' && definition.doc !== undefined ? [definition.doc as RouteDoc] : []));
      cached = buildOpenApiDocument(docs, { title: 'm365-bridge admin API', version: '1.0.0' });
    }
    return { status: 200, body: cached };
  },
});
