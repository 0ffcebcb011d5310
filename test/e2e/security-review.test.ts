import http from 'node:http';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectTenant } from '../functions/provisioning-support';
import { startTestHost, testAdminKey, type TestHost } from '../support/test-host';

// Each finding of the security review, reproduced the way it was found, against the local host.

interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/** A request as written on the wire: any path bytes, any Host header, any body. */
function raw(host: TestHost, options: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawAnswer> {
  const { port } = new URL(host.url);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers, setHost: options.headers?.host === undefined }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

function errorOf(text: string): { code: string; message: string; details?: { field: string }[] } {
  return (JSON.parse(text) as { error: { code: string; message: string; details?: { field: string }[] } }).error;
}

describe('the security review, reproduced after the fixes', () => {
  let host: TestHost;
  let readerKey: string;

  // A DATA_DIR that does not exist yet, so the service creates it.
  const parent = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-review-'));
  const dataDir = path.join(parent, 'data');

  beforeAll(async () => {
    host = await startTestHost({ dataDir });
    const created = await host.api('keys', { method: 'POST', json: { name: 'reader', role: 'reader' } });
    readerKey = ((await created.json()) as { key: string }).key;
  });
  afterAll(async () => {
    await host.close();
    rmSync(parent, { recursive: true, force: true });
  });

  it('1. a phone number of 250,000 spaces is refused at once, and health answers meanwhile', async () => {
    const number = `1${' '.repeat(250_000)}!`;
    const started = performance.now();
    const [created, health] = await Promise.all([
      host.api('users', { method: 'POST', json: { email: 'redos@example.com', phoneNumbers: [{ type: 'work', number }] } }),
      new Promise<Response>((resolve) => setTimeout(() => resolve(fetch(`${host.url}/health`)), 5)),
    ]);
    expect(created.status).toBe(400);
    expect(errorOf(await created.text()).details?.[0]?.field).toBe('body.phoneNumbers.0.number');
    // Health answered while the request was checked (its own probes may say a loaded machine is slow).
    expect(await health.json()).toHaveProperty('status');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('4. an upload without a valid key is refused before its body is sent, and its connection closed', async () => {
    const { port } = new URL(host.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    // Headers only: a body of 200,000 bytes is announced and never sent.
    socket.write('POST /api/users HTTP/1.1\r\nHost: localhost\r\nx-api-key: wrong\r\ncontent-type: application/json\r\ncontent-length: 200000\r\n\r\n{"email":');
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 401 /);
    expect(received).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('5. malformed percent-encoding in a path and an invalid Host header are 400s naming the field', async () => {
    const percent = await raw(host, { method: 'GET', path: '/api/users/%zz', headers: { 'x-api-key': testAdminKey } });
    expect(percent.status).toBe(400);
    expect(errorOf(percent.text)).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'params.id' }] });
    const notUtf8 = await raw(host, { method: 'GET', path: '/api/users/%ED%A0%80', headers: { 'x-api-key': testAdminKey } });
    expect(notUtf8.status).toBe(400);
    const badHost = await raw(host, { method: 'GET', path: '/api/health', headers: { host: 'a b[' } });
    expect(badHost.status).toBe(400);
    expect(errorOf(badHost.text)).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'headers.host' }] });
  });

  it('5. any bad cursor on GET /api/keys, and a lone surrogate in a group name, are 400s naming the field', async () => {
    for (const cursor of ['garbage', 'bnVsbA', Buffer.from('{"o":"x"}').toString('base64url'), '%ff']) {
      const listed = await host.api(`keys?cursor=${encodeURIComponent(cursor)}`);
      expect(listed.status).toBe(400);
      expect(errorOf(await listed.text()).details?.[0]?.field).toBe('query.cursor');
    }
    const group = await raw(host, { method: 'POST', path: '/api/groups', headers: { 'x-api-key': testAdminKey, 'content-type': 'application/json' }, body: '{"name":"a\\ud800b"}' });
    expect(group.status).toBe(400);
    expect(errorOf(group.text).details?.[0]?.field).toBe('body.name');
    expect(((await (await host.api('groups')).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('2, 5. a preview cursor that decodes to null, or carries a Graph link of its own, is a 400', async () => {
    const connection = await connectTenant(host);
    const first = await host.api(`connections/${connection.id as string}/m365/users?limit=1`, { headers: { 'x-api-key': readerKey } });
    expect(first.status).toBe(200);
    const { nextCursor } = (await first.json()) as { nextCursor: string };
    const [payload = ''] = nextCursor.split('.');
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const steered = Buffer.from(JSON.stringify({ ...decoded, p: `${host.sandboxUrl as string}/v1.0/users?$select=jobTitle&$top=999` })).toString('base64url');
    for (const cursor of [Buffer.from('null').toString('base64url'), steered, `${steered}.${nextCursor.split('.')[1] as string}`]) {
      const answer = await host.api(`connections/${connection.id as string}/m365/users?limit=1&cursor=${encodeURIComponent(cursor)}`, { headers: { 'x-api-key': readerKey } });
      expect(answer.status).toBe(400);
      expect(errorOf(await answer.text()).details?.[0]?.field).toBe('query.cursor');
    }
  });

  it('6. health without a key gives only the overall status; a reader key sees the details', async () => {
    const anonymous = await fetch(`${host.url}/health`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ok' });
    const detailed = (await (await fetch(`${host.url}/health`, { headers: { 'x-api-key': readerKey } })).json()) as Record<string, unknown>;
    expect(Object.keys(detailed.checks as object).sort()).toEqual(['queue', 'secrets', 'store']);
    expect(detailed).toHaveProperty('connections');
    expect((await fetch(`${host.url}/health`, { headers: { 'x-api-key': 'not-a-key' } })).status).toBe(401);
  });

  it('7. the data folder is 0700 and the databases with their -wal and -shm files are 0600', async () => {
    expect(statSync(host.dataDir).mode & 0o777).toBe(0o700);
    for (const name of ['m365-bridge.db', 'm365-bridge.db-wal', 'm365-bridge.db-shm', 'sandbox.db', 'sandbox.db-wal', 'sandbox.db-shm']) {
      expect([name, statSync(path.join(host.dataDir, name)).mode & 0o777]).toEqual([name, 0o600]);
    }
  });

  it('9. duplicate keys are refused: {"role":"reader","role":"admin"} creates no key', async () => {
    const before = ((await (await host.api('keys')).json()) as { items: unknown[] }).items.length;
    const answer = await raw(host, { method: 'POST', path: '/api/keys', headers: { 'x-api-key': testAdminKey, 'content-type': 'application/json' }, body: '{"name":"sneaky","role":"reader","role":"admin"}' });
    expect(answer.status).toBe(400);
    expect(errorOf(answer.text).details?.[0]?.field).toBe('body.role');
    expect(((await (await host.api('keys')).json()) as { items: unknown[] }).items).toHaveLength(before);
  });

  it('9. only application/json in UTF-8 is read', async () => {
    const body = JSON.stringify({ name: 'typed', role: 'reader' });
    for (const contentType of ['application/vnd.evil+json', 'text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded']) {
      const answer = await raw(host, { method: 'POST', path: '/api/keys', headers: { 'x-api-key': testAdminKey, 'content-type': contentType }, body });
      expect([contentType, answer.status]).toEqual([contentType, 415]);
    }
    const utf16 = await raw(host, { method: 'POST', path: '/api/keys', headers: { 'x-api-key': testAdminKey, 'content-type': 'application/json' }, body: Buffer.from(body, 'utf16le') });
    expect(utf16.status).toBe(400);
    expect((await raw(host, { method: 'POST', path: '/api/keys', headers: { 'x-api-key': testAdminKey, 'content-type': 'application/json; charset=UTF-8' }, body })).status).toBe(201);
  });

  it('9. limit is plain decimal only', async () => {
    for (const limit of ['0x10', '+7', ' 5', '1e1', '5.0', '-1', '0', '501']) {
      const answer = await host.api(`users?limit=${encodeURIComponent(limit)}`);
      expect([limit, answer.status]).toEqual([limit, 400]);
      expect(errorOf(await answer.text()).details?.[0]?.field).toBe('query.limit');
    }
    expect((await host.api('users?limit=7')).status).toBe(200);
  });

  it('9. the OAuth callback page cannot be framed', async () => {
    const page = await fetch(`${host.url}/oauth/callback?state=x&code=y`);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});
