import net from 'node:net';
import type { HttpFunctionDefinition } from '../../src/app/functions/definition';
import { startHttpServer, type LocalHttpServer } from '../../src/app/host/http-server';
import type { LogFields, Logger } from '../../src/domain/ports/logger';
import { createLogger } from '../../src/adapters/logging/pino-logger';

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

function recordingLogger(lines: Line[]): Logger {
  const at = (level: string) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

const upload: HttpFunctionDefinition = {
  kind: 'http',
  name: 'upload',
  route: 'upload',
  methods: ['POST'],
  admit: async (headers) => (headers['x-api-key'] === 'good' ? undefined : { status: 401, body: '{"error":{"code":"UNAUTHENTICATED","message":"no"}}' }),
  handler: async (request) => ({ status: 200, jsonBody: { bytes: (await request.arrayBuffer()).byteLength } }),
};

/** Opens a connection and sends the headers of a POST announcing `length` bytes, plus `sent` of them. */
async function slowUpload(server: LocalHttpServer, length: number, sent: number, key = 'good'): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  const answer = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  socket.write(`POST /api/upload HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`);
  socket.write(Buffer.alloc(sent, 0x20));
  return { socket, answer };
}

async function until(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('local HTTP server', () => {
  const lines: Line[] = [];
  let server: LocalHttpServer;

  beforeEach(async () => {
    lines.length = 0;
    server = await startHttpServer({ port: 0, definitions: [upload], logger: recordingLogger(lines), maxBodyBytesInFlight: 100_000 });
  });
  afterEach(() => server.stop(100));

  it('refuses an upload with a bad key from its headers, reading none of its body', async () => {
    const { answer } = await slowUpload(server, 200_000, 10, 'bad');
    expect(await answer).toMatch(/^HTTP\/1\.1 401 [^]*connection: close/i);
  });

  it('caps the body bytes all uploads in flight hold together, answering 503 past the cap', async () => {
    const first = await slowUpload(server, 200_000, 60_000);
    // The server has read all that was sent of the first before the second arrives.
    await until(() => server.bodyBytesHeld() === 60_000);
    const second = await slowUpload(server, 200_000, 60_000);
    expect(await second.answer).toMatch(/^HTTP\/1\.1 503 [^]*retry-after: 1/i);
    expect(server.bodyBytesHeld()).toBe(60_000);
    first.socket.destroy();
    await first.answer;
    // With the first upload gone (once the server has seen it go) its bytes are free again: a whole body of 50,000 is read and answered.
    await until(() => server.bodyBytesHeld() === 0);
    const third = await fetch(`${server.url}/upload`, { method: 'POST', headers: { 'x-api-key': 'good', 'content-type': 'application/json' }, body: ' '.repeat(50_000) });
    expect(third.status).toBe(200);
    expect(await third.json()).toEqual({ bytes: 50_000 });
    expect(server.bodyBytesHeld()).toBe(0);
  });

  it('logs an upload the client abandons at debug level, without a stack', async () => {
    const { socket, answer } = await slowUpload(server, 50_000, 1_000);
    await until(() => server.bodyBytesHeld() === 1_000);
    socket.destroy();
    await answer;
    await until(() => lines.length > 0);
    expect(lines).toEqual([{ level: 'debug', message: 'client closed the connection before its request body arrived', fields: expect.objectContaining({ method: 'POST', path: '/api/upload', bytesRead: 1_000 }) }]);
    expect(JSON.stringify(lines)).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });
});

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
