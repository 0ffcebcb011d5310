import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/app/host/free-port';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { call } from '../sandbox/sandbox-test-client';
import { repoRoot, waitFor } from '../support/host-process';

/** The README's walkthrough: its ```sh blocks between the walkthrough markers, in order. */
function walkthroughBlocks(): string[] {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- walkthrough');
  const end = readme.indexOf('<!-- /walkthrough -->');
  if (start < 0 || end < start) throw new Error('README.md has no walkthrough markers');
  return [...readme.slice(start, end).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// A newcomer's session exactly as the README writes it: `npm start`, then its shell blocks in one terminal.
describe('the README walkthrough', () => {
  let dataDir: string;

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build-if-needed.js')], { cwd: repoRoot, stdio: 'inherit' });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-readme-'));
  }, 180_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs as written against npm start: connect, import, bind, change, reconcile, events', async () => {
    const blocks = walkthroughBlocks();
    expect(blocks[0]?.trim()).toBe('npm start');
    const shellBlocks = blocks.slice(1);
    expect(shellBlocks.length).toBeGreaterThanOrEqual(8);
    expect(execFileSync('jq', ['--version'], { encoding: 'utf8' })).toMatch(/^jq-/);

    const port = await freePort();
    const sandboxPort = await freePort();
    const npm = spawn('npm', ['start'], { cwd: repoRoot, env: { ...process.env, PORT: String(port), SANDBOX_PORT: String(sandboxPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    npm.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => printed.includes('listening on'), 30_000);
      // What the README tells the newcomer npm start prints.
      const api = `http://localhost:${port}/api`;
      const sandbox = `https://127.0.0.1:${sandboxPort}`;
      expect(printed).toContain(`API reference  ${api}/docs`);
      expect(printed).toContain(`Console        http://localhost:${port}/`);
      expect(printed).toContain(path.join(dataDir, 'sandbox-cert.pem'));
      expect(printed).toMatch(/admin@contoso\.com +password Sandbox-Passw0rd!/);
      const key = /m365b_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/.exec(printed)?.[0];
      expect(key).toBeDefined();

      // One terminal, blocks pasted in order: a failing command stops it, and the markers say how far it got.
      const script = shellBlocks.map((block, i) => `${block}echo "::block ${i + 1} ok"`).join('\n');
      const session = await run('bash', ['-e', '-u', '-o', 'pipefail', '-c', script], {
        env: { ...process.env, API: api, SANDBOX: sandbox, CA: path.join(dataDir, 'sandbox-cert.pem'), KEY: key },
        timeoutMs: 60_000,
      });
      const passed = [...session.output.matchAll(/^::block (\d+) ok$/gm)].length;
      if (session.code !== 0 || passed !== shellBlocks.length) {
        throw new Error(`block ${passed + 1} failed (exit ${session.code}):\n${shellBlocks[passed] ?? ''}\n--- output ---\n${session.output}\n--- npm start ---\n${printed}`);
      }
      expect(session.output).toContain('Microsoft 365 connected');
      expect(session.output).toMatch(/^imported\tavery\.archer@contoso\.com$/m);

      // The end state, read from both sides: the account in the tenant, the events in the service.
      const token = (await call(`${sandbox}/_sandbox/tenants/contoso/tokens`, { method: 'POST', body: { upn: sandboxTenants.contoso.adminUpn } })).body.access_token as string;
      const account = await call(`${sandbox}/v1.0/users/new.hire@contoso.com?$select=id,jobTitle,accountEnabled`, { headers: { authorization: `Bearer ${token}` } });
      expect(account.body).toMatchObject({ jobTitle: 'Senior Engineer', accountEnabled: true });
      const events = (await (await fetch(`${api}/events`, { headers: { 'x-api-key': key as string } })).json()) as { items: { type: string; m365UserId?: string; changedAttributes: string[] }[] };
      const ofAccount = events.items.filter((event) => event.m365UserId === account.body.id);
      expect(ofAccount.map((event) => event.type)).toEqual(['user_update_provision', 'user_update_provision', 'user_create_provision']);
      expect(ofAccount[0]?.changedAttributes).toEqual(['jobTitle']);
    } finally {
      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 90_000);
});
