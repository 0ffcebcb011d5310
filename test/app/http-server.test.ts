import type { HttpFunctionDefinition } from '../../src/app/functions/definition';
import { startHttpServer, type LocalHttpServer } from '../../src/app/host/http-server';
import { createLogger } from '../../src/adapters/logging/pino-logger';

// Like the Functions host with no route prefix: API functions under /api, site functions (the console) at the root.
describe('local HTTP server routing', () => {
  let server: LocalHttpServer;
  let origin: string;

  beforeAll(async () => {
    const definitions: HttpFunctionDefinition[] = [
      { kind: 'http', name: 'thing', route: 'things/{id}', methods: ['GET'], handler: async (request) => ({ status: 200, jsonBody: { api: request.params.id } }) },
      { kind: 'http', name: 'site', route: '{*path}', site: true, methods: ['GET'], handler: async (request) => ({ status: 200, body: `site:${request.params.path ?? ''}` }) },
    ];
    server = await startHttpServer({ port: 0, definitions, logger: createLogger({ level: 'silent' }) });
    origin = server.url.replace(/\/api$/, '');
  });
  afterAll(() => server.stop(100));

  it('serves the site at the root and the API under /api', async () => {
    expect(await (await fetch(`${origin}/`)).text()).toBe('site:');
    expect(await (await fetch(`${origin}/assets/a.js`)).text()).toBe('site:assets/a.js');
    expect(await (await fetch(`${origin}/api/things/7`)).json()).toEqual({ api: '7' });
  });

  it('never hands a path under /api to the site', async () => {
    const response = await fetch(`${origin}/api/nothing`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});
