import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/app/host/free-port';
import { serviceHeapMb } from '../../src/app/host/node-heap';
import { repoRoot as root, startHostProcess as start, waitFor } from '../support/host-process';

// The real `npm start` entry point, as a child process: start-up, health, config errors, SIGTERM.
describe('npm start (local host process)', () => {
  let dataDir: string;

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(root, 'scripts/build-if-needed.js')], { cwd: root, stdio: 'inherit' });
  }, 180_000);
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-process-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('stops start-up naming the bad variable', async () => {
    const run = start({ PORT: 'abc', DATA_DIR: dataDir });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/PORT/);
  });

  it('starts on the embedded defaults, is healthy, prints a first admin key once, and exits 0 within 5 s of SIGTERM', async () => {
    const port = await freePort();
    const sandboxPort = await freePort();
    const env = { PORT: String(port), SANDBOX_PORT: String(sandboxPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const run = start(env);
    await waitFor(() => run.output().includes('listening on'), 30_000);
    expect(run.output()).toMatch(/m365b_[0-9a-f]{16}_/);
    // The start-up line reports the heap limit the options gave it (old space plus the young generation's share).
    const limit = Number(/V8 heap limit (\d+) MB/.exec(run.output())?.[1]);
    expect(limit).toBeGreaterThanOrEqual(serviceHeapMb);
    expect(limit).toBeLessThan(serviceHeapMb + 128);

    const anonymous = await fetch(`http://localhost:${port}/api/health`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ok' });
    const printedKey = /m365b_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/.exec(run.output())?.[0] as string;
    const health = await fetch(`http://localhost:${port}/api/health`, { headers: { 'x-api-key': printedKey } });
    const body = (await health.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(health.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(Object.keys(body.checks).sort()).toEqual(expect.arrayContaining(['queue', 'secrets', 'store']));
    for (const check of Object.values(body.checks)) expect(check.status).toBe('ok');

    const stoppedAt = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);

    // A second start on the same data keeps the key: no new one is printed.
    const again = start(env);
    await waitFor(() => again.output().includes('listening on'), 30_000);
    expect(again.output()).not.toMatch(/m365b_[0-9a-f]{16}_/);
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
    // Two start-ups of up to 30 s each on a loaded machine, then the stops: start-up time is not what this test bounds.
  }, 90_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('stops the service when a supervisor sends %s to the npm start process, exiting 0 within 5 s', async (signal) => {
    const port = await freePort();
    const sandboxPort = await freePort();
    // npm as a supervisor runs it: the signal goes to npm's PID only, never to its process group.
    const npm = spawn('npm', ['start'], { cwd: root, env: { ...process.env, PORT: String(port), SANDBOX_PORT: String(sandboxPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    await waitFor(() => output.includes('listening on'), 60_000);
    expect((await fetch(`http://localhost:${port}/api/health`)).status).toBe(200);

    const stoppedAt = Date.now();
    npm.kill(signal);
    expect(await exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    // The service itself is gone, not re-parented and still answering.
    await expect(fetch(`http://localhost:${port}/api/health`)).rejects.toThrow();
  }, 90_000);
});
