import { functionTable } from '../../functions/table';
import { startTestHost, type TestHost } from '../support/test-host';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost({ sandbox: false });
});
afterAll(() => host.close());

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, unknown> }>>;
}

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3.1 document listing every HTTP route with its path parameters', async () => {
    const response = await fetch(`${host.url}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as OpenApiDocument;
    expect(document.openapi).toBe('3.1.0');
    for (const definition of functionTable) {
      if (definition.kind !== 'http' || definition.site === true) continue;
      for (const method of definition.methods) {
        const operation = document.paths[`/api/${definition.route}`]?.[method.toLowerCase()];
        expect({ route: `${method} ${definition.route}`, documented: operation !== undefined }).toEqual({ route: `${method} ${definition.route}`, documented: true });
        const templateParams = [...definition.route.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        expect((operation?.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name).sort()).toEqual(templateParams.sort());
      }
    }
  });

  it('describes the user body from the validating schema: strict, with Graph length limits', async () => {
    const document = (await (await fetch(`${host.url}/openapi.json`)).json()) as OpenApiDocument;
    const body = document.paths['/api/users']?.post?.requestBody as { content: { 'application/json': { schema: { additionalProperties: boolean; required: string[]; properties: Record<string, { maxLength?: number; format?: string }> } } } };
    const schema = body.content['application/json'].schema;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['email']);
    expect(schema.properties.email?.format).toBe('email');
    expect(schema.properties.firstName?.maxLength).toBe(64);
    expect(schema.properties.employeeId?.maxLength).toBe(16);
  });
});
