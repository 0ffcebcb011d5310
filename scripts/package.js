#!/usr/bin/env node
// Builds the deployment package for Azure Functions: .deploy/app (what azd zips and deploys, see
// azure.yaml) and .deploy/m365-bridge.zip (the same files, for `az functionapp deployment source
// config-zip` or any other zip deploy). It holds dist/functions and dist/src without source maps,
// the built console (dist/web), host.json, package.json and the production node_modules; nothing
// from test/, bench/, .data/ or the TypeScript sources.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const out = path.join(root, '.deploy');
const app = path.join(out, 'app');
const zipFile = path.join(out, 'm365-bridge.zip');

// The Azure configuration (Cosmos DB and Service Bus, required under the Functions host) never
// loads the embedded SQLite adapters, so the package leaves out their native module rather than
// ship a binary built for whichever Node.js and libc ran this script.
const leftOut = ['better-sqlite3'];
// Not needed to run: source maps and TypeScript sources or declarations.
const strippedFile = /\.(map|ts|mts|cts)$/;

function copyTree(from, to) {
  fs.cpSync(from, to, { recursive: true, filter: (src) => fs.statSync(src).isDirectory() || !strippedFile.test(src) });
}

// npm prune leaves the scope folders of the packages it removed.
function removeEmptyDirectories(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeEmptyDirectories(path.join(dir, entry.name));
  if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}

execFileSync(process.execPath, [path.join(__dirname, 'build-if-needed.js')], { stdio: 'inherit', cwd: root });

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(app, { recursive: true });
for (const dir of ['functions', 'src', 'web']) copyTree(path.join(root, 'dist', dir), path.join(app, 'dist', dir));
fs.copyFileSync(path.join(root, 'host.json'), path.join(app, 'host.json'));

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const dependencies = Object.fromEntries(Object.entries(manifest.dependencies).filter(([name]) => !leftOut.includes(name)));
const { name, version, private: isPrivate, description, main, engines } = manifest;
fs.writeFileSync(path.join(app, 'package.json'), `${JSON.stringify({ name, version, private: isPrivate, description, main, engines, dependencies }, null, 2)}\n`);

// The installed tree, pruned to the production dependencies the lockfile pins: no registry access,
// no install scripts.
fs.copyFileSync(path.join(root, 'package-lock.json'), path.join(app, 'package-lock.json'));
copyTree(path.join(root, 'node_modules'), path.join(app, 'node_modules'));
execFileSync('npm', ['prune', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: app });
fs.rmSync(path.join(app, 'package-lock.json'));
fs.rmSync(path.join(app, 'node_modules', '.package-lock.json'), { force: true });
removeEmptyDirectories(path.join(app, 'node_modules'));

try {
  execFileSync('zip', ['-qrX', zipFile, '.'], { stdio: 'inherit', cwd: app });
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
  // azd zips .deploy/app itself; the zip file is for other ways of deploying.
  process.stdout.write(`no zip command: ${path.relative(root, app)} is ready, ${path.relative(root, zipFile)} was not written\n`);
  process.exit(0);
}
process.stdout.write(`${path.relative(root, zipFile)}: ${(fs.statSync(zipFile).size / 1024 / 1024).toFixed(1)} MB (unpacked in ${path.relative(root, app)})\n`);
