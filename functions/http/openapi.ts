import { defineRoute } from '../../src/app/http/route';
import { buildOpenApiDocument, type RouteDoc } from '../../src/app/http/openapi-registry';
import type { FunctionDefinition } from '../../src/app/functions/definition';

let cached: object | undefined;

const description =
  'Admin API of m365-bridge, a directory service that keeps Microsoft 365 (Entra ID) tenants in step with it. ' +
  'Every route but health, this document, the reference page and the OAuth callback needs an `x-api-key` header; reader keys may only GET.';

const tags: Readonly<Record<string, string>> = {
  keys: 'API keys (admin or reader), stored as hashes and shown once',
  users: 'Directory users',
  groups: 'Directory groups and their members',
  connections: 'Microsoft 365 tenants connected through a Global Administrator’s consent',
  bindings: 'Users and groups bound to a connection, provisioned to its tenant',
  imports: 'Preview and import of the users of a tenant',
  reconcile: 'Reconcile runs and the mass-deactivation guard',
  plans: 'Dry runs: what a settings change, bind, unbind or reconcile would write, without writing',
  events: 'What provisioning did, once per effective change',
  notifications: 'Microsoft Graph change notifications',
  operations: 'Health, dead letters, this document and its rendered reference',
};

/** The OpenAPI document of a function table's API routes (the console's types are generated from it at build time). */
export function openApiDocumentOf(table: readonly FunctionDefinition[]): object {
  const docs = table.flatMap((definition) => (definition.kind === 'http' && definition.doc !== undefined ? [definition.doc as RouteDoc] : []));
  return buildOpenApiDocument(docs, { title: 'm365-bridge admin API', version: '1.0.0', description, tags });
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
