#!/usr/bin/env node
// Rebuilds dist/ when any source is newer than the last build (used by npm start/bench);
// `--force` always builds (npm run build). The build compiles the app, writes its OpenAPI document,
// generates the console's API types from it, type-checks the console and bundles it into dist/web.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const sourceExtensions = ['.ts', '.tsx', '.json', '.css', '.html', '.mjs'];

function newestSource(dir) {
  let newest = 0;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (sourceExtensions.includes(path.extname(entry.name))) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function run(script, args) {
  execFileSync(process.execPath, [script, ...args], { stdio: 'inherit', cwd: root });
}

const generatedTypes = path.join(root, 'web', 'src', 'api', 'schema.d.ts');
const sources = Math.max(...['src', 'functions', 'bench', 'scripts', 'web'].map((d) => newestSource(path.join(root, d))), fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs);
const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
if (process.argv.includes('--force') || sources > built || !fs.existsSync(path.join(root, 'dist', 'web', 'index.html'))) {
  process.stderr.write('building...\n');
  run(require.resolve('typescript/bin/tsc'), ['-p', path.join(root, 'tsconfig.json')]);
  const openApi = path.join(root, 'dist', 'openapi.json');
  run(path.join(root, 'dist', 'scripts', 'write-openapi.js'), [openApi]);
  run(path.join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), [openApi, '--output', generatedTypes, '--silent']);
  run(require.resolve('typescript/bin/tsc'), ['-p', path.join(root, 'web', 'tsconfig.json')]);
  run(path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), ['build', '--config', path.join(root, 'web', 'vite.config.mjs'), '--logLevel', 'warn']);
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, new Date().toISOString());
}
