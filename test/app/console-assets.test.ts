import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ConsoleAssets } from '../../src/app/console/console-assets';

describe('ConsoleAssets', () => {
  let dir: string;
  let assets: ConsoleAssets;
  const script = 'console.log("the console");'.repeat(50);

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'console-assets-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), script);
    writeFileSync(path.join(dir, '.secret'), 'not served');
    writeFileSync(path.join(path.dirname(dir), 'outside.txt'), 'not served');
    assets = new ConsoleAssets(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const header = (response: { headers?: unknown }, name: string): string | undefined => (response.headers as Record<string, string>)[name];

  it('answers the page at the root and at any console address, never cached, with a strict content security policy', () => {
    for (const requestPath of ['', '/', 'users', 'connections/abc']) {
      const response = assets.serve(requestPath, undefined);
      expect(response.status).toBe(200);
      expect(String(response.body)).toContain('<title>console</title>');
      expect(header(response, 'content-type')).toBe('text/html; charset=utf-8');
      expect(header(response, 'cache-control')).toBe('no-cache');
      expect(header(response, 'content-security-policy')).toContain("script-src 'self'");
      expect(header(response, 'content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });

  it('serves hashed assets for a year, gzipped when the browser accepts it', () => {
    const plain = assets.serve('assets/index-abc123.js', undefined);
    expect(header(plain, 'cache-control')).toBe('public, max-age=31536000, immutable');
    expect(header(plain, 'content-encoding')).toBeUndefined();
    expect(String(plain.body)).toBe(script);
    const gzipped = assets.serve('assets/index-abc123.js', 'gzip, deflate, br');
    expect(header(gzipped, 'content-encoding')).toBe('gzip');
    expect((gzipped.body as Buffer).length).toBeLessThan(script.length);
    expect(gunzipSync(gzipped.body as Buffer).toString()).toBe(script);
  });

  it('leaves /api to the API and serves nothing outside the built files', () => {
    for (const requestPath of ['api/nothing', 'API', 'assets/missing.js', '.secret', 'assets/../.secret', '../outside.txt', 'assets/..\\..\\outside.txt']) {
      const response = assets.serve(requestPath, undefined);
      expect([requestPath, response.status]).toEqual([requestPath, 404]);
      expect(JSON.parse(String(response.body))).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
  });

  it('says the console is not built when it is not', () => {
    const response = new ConsoleAssets(path.join(dir, 'nothing-here')).serve('', undefined);
    expect(response.status).toBe(404);
    expect(String(response.body)).toContain('npm run build');
  });
});
