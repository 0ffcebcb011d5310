import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGraphClientFactory, type GraphClientFactory } from '../../src/adapters/graph/graph-client-factory';
import { GraphRequestError } from '../../src/adapters/graph/graph-error-translator';
import type { TokenFailure, TokenProvider } from '../../src/domain/connections/token-provider';
import { err, ok, type Result } from '../../src/domain/result';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'reset';

/** A scripted Graph on loopback HTTP: replies are taken in order per path, then the default. */
class FakeGraph {
  readonly seen: Seen[] = [];
  readonly scripts = new Map<string, Reply[]>();
  connections = 0;
  private server!: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '/';
        this.seen.push({ method: req.method ?? 'GET', url, authorization: req.headers.authorization, body: Buffer.concat(chunks).toString('utf8') });
        const path = url.split('?')[0] ?? url;
        const reply: Reply = this.scripts.get(`${req.method} ${path}`)?.shift() ?? { status: 200, body: { path } };
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(body);
      });
    });
    this.server.on('connection', () => (this.connections += 1));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(route: string, ...replies: Reply[]): void {
    this.scripts.set(route, replies);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** Tokens `token-1`, `token-2`... (a new one per forced refresh), or a scripted failure. */
class CountingTokens implements TokenProvider {
  refreshes = 0;
  failure: TokenFailure | undefined;
  async getAccessToken(_connectionId: string, options: { forceRefresh?: boolean } = {}): Promise<Result<string, TokenFailure>> {
    if (this.failure !== undefined) return err(this.failure);
    if (options.forceRefresh === true) this.refreshes += 1;
    return ok(`token-${this.refreshes + 1}`);
  }
}

async function thrown(promise: Promise<unknown>): Promise<GraphRequestError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GraphRequestError) return error;
    throw error;
  }
  throw new Error('expected a GraphRequestError');
}

describe('Graph client (middleware chain against a scripted Graph)', () => {
  const graph = new FakeGraph();
  let tokens: CountingTokens;
  let factory: GraphClientFactory;
  let sleeps: number[];
  let httpAgent: http.Agent;

  beforeAll(() => graph.start());
  afterAll(() => graph.stop());
  beforeEach(() => {
    graph.seen.length = 0;
    graph.scripts.clear();
    tokens = new CountingTokens();
    sleeps = [];
    httpAgent = new http.Agent({ keepAlive: true });
    factory = createGraphClientFactory({
      graphBaseUrl: graph.url,
      tokens,
      httpsAgent: new https.Agent(),
      httpAgent,
      retry: { maxRetries: 1, maxRetryAfterMs: 2000, defaultDelayMs: 250, sleep: async (ms) => void sleeps.push(ms) },
    });
  });
  afterEach(() => httpAgent.destroy());

  it('calls v1.0 with the connection token, keeping the query as given', async () => {
    const result = await factory.forConnection('c1').get<{ path: string }>("/users?$select=id,userPrincipalName&$filter=userPrincipalName eq 'o''brien@contoso.com'");
    expect(result).toEqual({ path: '/v1.0/users' });
    expect(graph.seen[0]).toMatchObject({ method: 'GET', authorization: 'Bearer token-1' });
    expect(decodeURIComponent(graph.seen[0]!.url)).toBe("/v1.0/users?$select=id,userPrincipalName&$filter=userPrincipalName eq 'o''brien@contoso.com'");
  });

  it('reuses one kept-alive connection across requests', async () => {
    const before = graph.connections;
    const client = factory.forConnection('c1');
    for (let i = 0; i < 10; i += 1) await client.get('/me');
    expect(graph.connections - before).toBe(1);
  });

  it('retries a 429 once after a short Retry-After', async () => {
    graph.script('GET /v1.0/users/u1', { status: 429, body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } }, headers: { 'retry-after': '1' } }, { status: 200, body: { id: 'u1' } });
    expect(await factory.forConnection('c1').get('/users/u1')).toEqual({ id: 'u1' });
    expect(sleeps).toEqual([1000]);
    expect(graph.seen).toHaveLength(2);
  });

  it('does not wait out a long Retry-After: the error carries it for the queue to reschedule', async () => {
    graph.script('GET /v1.0/users/u1', { status: 429, body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } }, headers: { 'retry-after': '30' } });
    expect(await thrown(factory.forConnection('c1').get('/users/u1'))).toMatchObject({ code: 'transient', status: 429, retryAfterMs: 30_000, graphCode: 'TooManyRequests' });
    expect(sleeps).toEqual([]);
    expect(graph.seen).toHaveLength(1);
  });

  it('gives up after its retry budget on repeated 503s', async () => {
    graph.script('GET /v1.0/users', { status: 503, body: { error: { code: 'serviceNotAvailable', message: 'down' } } }, { status: 503, body: { error: { code: 'serviceNotAvailable', message: 'down' } } }, { status: 200, body: {} });
    expect(await thrown(factory.forConnection('c1').get('/users'))).toMatchObject({ code: 'transient', status: 503 });
    expect(sleeps).toEqual([250]);
    expect(graph.seen).toHaveLength(2);
  });

  it('does not repeat a POST that may have been applied (504, lost connection)', async () => {
    graph.script('POST /v1.0/users', { status: 504, body: { error: { code: 'GatewayTimeout', message: 'timeout' } } });
    expect((await thrown(factory.forConnection('c1').post('/users', { displayName: 'x' }))).code).toBe('transient');
    graph.script('POST /v1.0/users', 'reset');
    expect(await thrown(factory.forConnection('c1').post('/users', { displayName: 'x' }))).toMatchObject({ code: 'transient', status: undefined });
    expect(graph.seen).toHaveLength(2);
  });

  it('sends an idempotent request again after a lost connection', async () => {
    graph.script('GET /v1.0/users/u1', 'reset', { status: 200, body: { id: 'u1' } });
    expect(await factory.forConnection('c1').get('/users/u1')).toEqual({ id: 'u1' });
  });

  it('answers a 401 with one forced token refresh, then stops', async () => {
    graph.script('GET /v1.0/me', { status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.' } } }, { status: 200, body: { id: 'me' } });
    expect(await factory.forConnection('c1').get('/me')).toEqual({ id: 'me' });
    expect(graph.seen.map((s) => s.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);

    const unauthorized = { status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'no' } } };
    graph.script('GET /v1.0/me', unauthorized, unauthorized, unauthorized);
    expect(await thrown(factory.forConnection('c1').get('/me'))).toMatchObject({ code: 'stop', status: 401 });
    expect(graph.seen).toHaveLength(4);
  });

  it('reports a revoked grant found by the forced refresh after a 401', async () => {
    graph.script('GET /v1.0/me', { status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Continuous access evaluation resulted in challenge' } } });
    const revoking: TokenProvider = {
      getAccessToken: async (_id, options = {}) => (options.forceRefresh === true ? err({ code: 'reauthorization_required', reason: 'AADSTS50173', message: 'AADSTS50173: grant revoked' }) : ok('cached-token')),
    };
    const client = createGraphClientFactory({ graphBaseUrl: graph.url, tokens: revoking, httpsAgent: new https.Agent(), httpAgent }).forConnection('c1');
    expect(await thrown(client.get('/me'))).toMatchObject({ code: 'reauthorization_required', message: 'AADSTS50173: grant revoked' });
    expect(graph.seen).toHaveLength(1);
  });

  it('surfaces a connection that needs re-consent without calling Graph', async () => {
    tokens.failure = { code: 'reauthorization_required', reason: 'AADSTS50173', message: 'grant revoked' };
    expect(await thrown(factory.forConnection('c1').get('/me'))).toMatchObject({ code: 'reauthorization_required', message: 'grant revoked' });
    tokens.failure = { code: 'not_connected', status: 'deauthorized', message: 'connection c1 is deauthorized' };
    expect((await thrown(factory.forConnection('c1').patch('/users/u1', {}))).code).toBe('not_connected');
    expect(graph.seen).toEqual([]);
  });

  it('classifies Graph errors with the one translator', async () => {
    graph.script('POST /v1.0/users', { status: 400, body: { error: { code: 'Request_BadRequest', message: 'Another object with the same value for property userPrincipalName already exists.', details: [{ target: 'userPrincipalName', code: 'ObjectConflict' }] } } });
    expect((await thrown(factory.forConnection('c1').post('/users', {}))).code).toBe('exists');
    graph.script('DELETE /v1.0/users/gone', { status: 404, body: { error: { code: 'Request_ResourceNotFound', message: 'gone' } } });
    expect((await thrown(factory.forConnection('c1').delete('/users/gone'))).code).toBe('not_found');
    graph.script('PATCH /v1.0/users/u1', { status: 403, body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } });
    expect((await thrown(factory.forConnection('c1').patch('/users/u1', {}))).code).toBe('stop');
  });

  it('answers a 204 PATCH with undefined and sends the body as JSON', async () => {
    graph.script('PATCH /v1.0/users/u1', { status: 204 });
    expect(await factory.forConnection('c1').patch('/users/u1', { accountEnabled: false })).toBeUndefined();
    expect(JSON.parse(graph.seen[0]!.body)).toEqual({ accountEnabled: false });
  });

  it('follows @odata.nextLink across pages', async () => {
    graph.script('GET /v1.0/users', { status: 200, body: { value: [{ id: 'a' }, { id: 'b' }], '@odata.nextLink': `${graph.url}/v1.0/users?$skiptoken=X%3D%3D` } }, { status: 200, body: { value: [{ id: 'c' }], '@odata.deltaLink': `${graph.url}/v1.0/users/delta?$deltatoken=Y` } });
    const pages = [];
    for await (const page of factory.forConnection('c1').pages<{ id: string }>('/users?$top=2')) pages.push(page);
    expect(pages.map((p) => p.value.map((u) => u.id))).toEqual([['a', 'b'], ['c']]);
    expect(pages[1]?.deltaLink).toBe(`${graph.url}/v1.0/users/delta?$deltatoken=Y`);
    expect(graph.seen[1]?.url).toBe('/v1.0/users?$skiptoken=X%3D%3D');
  });

  it('batches up to 20 requests, answering in request order with per-request classification', async () => {
    graph.script('POST /v1.0/$batch', {
      status: 200,
      body: {
        responses: [
          { id: '2', status: 404, headers: {}, body: { error: { code: 'Request_ResourceNotFound', message: 'gone' } } },
          { id: '3', status: 429, headers: { 'Retry-After': '4' }, body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } } },
          { id: '1', status: 201, headers: { 'Content-Type': 'application/json' }, body: { id: 'new' } },
        ],
      },
    });
    const answers = await factory.forConnection('c1').batch([
      { id: '1', method: 'POST', url: '/users', body: { displayName: 'n' } },
      { id: '2', method: 'GET', url: '/users/gone' },
      { id: '3', method: 'PATCH', url: '/users/u3', body: { jobTitle: 't' } },
    ]);
    expect(answers.map((a) => [a.id, a.status, a.error?.code])).toEqual([
      ['1', 201, undefined],
      ['2', 404, 'not_found'],
      ['3', 429, 'transient'],
    ]);
    expect(answers[2]?.error?.retryAfterMs).toBe(4000);
    expect(JSON.parse(graph.seen[0]!.body)).toEqual({
      requests: [
        { id: '1', method: 'POST', url: '/users', body: { displayName: 'n' }, headers: { 'Content-Type': 'application/json' } },
        { id: '2', method: 'GET', url: '/users/gone' },
        { id: '3', method: 'PATCH', url: '/users/u3', body: { jobTitle: 't' }, headers: { 'Content-Type': 'application/json' } },
      ],
    });
    await expect(factory.forConnection('c1').batch(Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET' as const, url: '/me' })))).rejects.toThrow(TypeError);
  });
});
