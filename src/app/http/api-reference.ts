import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The files of swagger-ui-dist the reference page loads, with their content types. */
const assets: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

/** Starts the viewer on the service's own document; a file of its own so the page needs no inline script. */
const initScript = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '../openapi.json', dom_id: '#reference', deepLinking: true, persistAuthorization: false });
});
`;

/** The rendered API reference at /api/docs: Swagger UI (swagger-ui-dist) on /api/openapi.json. */
export const referencePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>m365-bridge admin API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head><body>
<div id="reference"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body></html>
`;

/** Scripts and styles from this origin only; Swagger UI sets inline styles and shows data: images. */
export const referenceHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
};

/** One of the page's assets by file name, or undefined for any other name. */
export async function referenceAsset(file: string): Promise<{ readonly contentType: string; readonly text: string } | undefined> {
  if (file === 'init.js') return { contentType: 'text/javascript; charset=utf-8', text: initScript };
  const contentType = Object.hasOwn(assets, file) ? assets[file] : undefined;
  if (contentType === undefined) return undefined;
  const dir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  return { contentType, text: await readFile(path.join(dir, file), 'utf8') };
}
