import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HttpResponseInit } from '@azure/functions';

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The console talks only to this origin's /api and runs no inline script or style; the API key it
 * holds in sessionStorage is therefore out of reach of injected markup and of other origins.
 */
const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly contentType: string;
}

/** The built console (`npm run build` writes it to `dist/web` beside the compiled app). */
export function defaultConsoleDir(): string {
  // From src/app/console (tests) or dist/src/app/console (built): the package root holds package.json.
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'web');
}

function notFound(message: string): HttpResponseInit {
  return { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ error: { code: 'NOT_FOUND', message } }) };
}

/**
 * Serves the console's files: `index.html` for the root (and any path that is not a file, so a
 * bookmarked console address still loads), hashed assets cached for a year, gzip when accepted.
 * Paths under `api/` are never the console's: they answer the API's JSON 404.
 */
export class ConsoleAssets {
  private readonly cache = new Map<string, Asset | null>();

  constructor(private readonly dir: string) {}

  serve(requestPath: string, acceptEncoding: string | undefined): HttpResponseInit {
    const clean = requestPath.replace(/^\/+/, '');
    if (/^api(\/|$)/i.test(clean)) return notFound(`no route /${clean}`);
    // The path arrives decoded (route parameters are); no dot segment or hidden file is served.
    if (clean.split(/[/\\]/).some((segment) => segment.startsWith('.'))) return notFound(`no console file /${clean}`);
    const isAsset = clean.startsWith('assets/');
    const file = clean === '' || (!isAsset && path.extname(clean) === '') ? 'index.html' : clean;
    const asset = this.load(file);
    if (asset === undefined) {
      return file === 'index.html' ? notFound('the console is not built: run npm run build') : notFound(`no console file /${clean}`);
    }
    const gzip = asset.gzipped !== undefined && /\bgzip\b/i.test(acceptEncoding ?? '');
    return {
      status: 200,
      headers: {
        ...securityHeaders,
        'content-type': asset.contentType,
        'cache-control': isAsset ? 'public, max-age=31536000, immutable' : 'no-cache',
        vary: 'accept-encoding',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      },
      body: gzip ? asset.gzipped : asset.body,
    };
  }

  private load(file: string): Asset | undefined {
    const cached = this.cache.get(file);
    if (cached !== undefined) return cached ?? undefined;
    const full = path.join(this.dir, file);
    const contentType = contentTypes[path.extname(file).toLowerCase()];
    if (contentType === undefined || !existsSync(full) || !statSync(full).isFile()) {
      // index.html is looked up again later: a build may arrive after the first request.
      if (file !== 'index.html') this.cache.set(file, null);
      return undefined;
    }
    const body = readFileSync(full);
    const asset = { body, contentType, gzipped: /^(text|application\/json|image\/svg)/.test(contentType) ? gzipSync(body, { level: 9 }) : undefined };
    this.cache.set(file, asset);
    return asset;
  }
}
