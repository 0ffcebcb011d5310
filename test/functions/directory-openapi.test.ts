import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { functionTable } from '../../functions/table';
import { startTestHost, type TestHost } from '../support/test-host';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost({ sandbox: false });
});
afterAll(() => host.close());

interface OpenApiDocument {
  openapi: string;
  components: { schemas: Record<string, unknown> };
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
    const body = document.paths['/api/users']?.post?.requestBody as { content: { 'application/json': { schema: { $ref: string } } } };
    expect(body.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/UserCreate' });
    const schema = document.components.schemas.UserCreate as { additionalProperties: boolean; required: string[]; properties: Record<string, { maxLength?: number; format?: string }> };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['email']);
    expect(schema.properties.email?.format).toBe('email');
    expect(schema.properties.firstName?.maxLength).toBe(64);
    expect(schema.properties.employeeId?.maxLength).toBe(16);
  });

  it('names every response body as a component, referenced with $ref, and shares the entity schemas', async () => {
    const document = (await (await fetch(`${host.url}/openapi.json`)).json()) as OpenApiDocument;
    const inline: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const bodies = Object.entries(operation.responses) as [string, { content?: Record<string, { schema?: { $ref?: string } }> } | undefined][];
        for (const [which, body] of bodies) {
          for (const media of Object.values(body?.content ?? {})) if (media.schema !== undefined && media.schema.$ref === undefined) inline.push(`${method} ${path} ${which}`);
        }
      }
    }
    expect(inline).toEqual([]);
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(['User', 'Group', 'Connection', 'UserBinding', 'Event', 'Error', 'DeadLetter']));
    const text = JSON.stringify(document);
    // The user shape is written once, not once per route that returns a user.
    expect(text.match(/"employeeType":/g)?.length).toBeLessThanOrEqual(3);
    expect(text.length).toBeLessThan(121_000);
  });

  it('pages every list the same way: a GET taking limit takes a cursor too and answers an optional nextCursor', async () => {
    const document = (await (await fetch(`${host.url}/openapi.json`)).json()) as OpenApiDocument;
    const lists: string[] = [];
    const unpaged: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      const operation = operations.get;
      const query = (operation?.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
      if (operation === undefined || !query.includes('limit')) continue;
      lists.push(path);
      const ok = operation.responses['200'] as { content: Record<string, { schema: { $ref: string } }> };
      const body = document.components.schemas[ok.content['application/json']!.schema.$ref.replace('#/components/schemas/', '')] as { properties: Record<string, { type?: string }>; required?: string[] };
      const paged = query.includes('cursor') && body.properties.nextCursor?.type === 'string' && !(body.required ?? []).includes('nextCursor');
      if (!paged) unpaged.push(path);
    }
    expect(lists).toEqual(expect.arrayContaining(['/api/users', '/api/events', '/api/dead-letters']));
    expect(unpaged).toEqual([]);
  });

  it('gives only patterns an ECMAScript engine takes as they are, without flags', async () => {
    const text = await (await fetch(`${host.url}/openapi.json`)).text();
    const patterns = [...new Set([...text.matchAll(/"pattern":"((?:[^"\\]|\\.)*)"/g)].map((match) => JSON.parse(`"${match[1]!}"`) as string))];
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) {
      expect(() => new RegExp(pattern, 'u')).not.toThrow();
      // A trailing /i (or any flag) is not part of the pattern language: clients would match it literally.
      expect({ pattern, flagged: /\/[dgimsuvy]+$/.test(pattern) }).toEqual({ pattern, flagged: false });
    }
  });

  it('passes an independent OpenAPI linter (Spectral, its OpenAPI rules as .spectral.yaml sets them) without a warning', async () => {
    const root = path.resolve(__dirname, '../..');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, await (await fetch(`${host.url}/openapi.json`)).text());
      const spectral = require.resolve('@stoplight/spectral-cli/dist/index.js');
      const run = await promisify(execFile)(process.execPath, [spectral, 'lint', file, '--ruleset', path.join(root, '.spectral.yaml'), '--fail-severity', 'warn'], { cwd: root }).catch((error: { stdout: string; code: number }) => error);
      expect(run.stdout).toMatch(/No results with a severity of 'warn' or higher found!/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('renders the reference at /api/docs from swagger-ui-dist, same-origin scripts only, on this document', async () => {
    const page = await fetch(`${host.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(docs\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets.sort()).toEqual(['docs/init.js', 'docs/swagger-ui-bundle.js', 'docs/swagger-ui.css']);
    for (const asset of assets) {
      const response = await fetch(`${host.url}/${asset}`);
      expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
      expect((await response.text()).length).toBeGreaterThan(asset.endsWith('init.js') ? 50 : 10_000);
    }
    expect(await (await fetch(`${host.url}/docs/init.js`)).text()).toContain("url: '../openapi.json'");
    expect((await fetch(`${host.url}/docs/package.json`)).status).toBe(404);
    expect((await fetch(`${host.url}/docs/..%2Fpackage.json`)).status).toBe(404);
  });
});
