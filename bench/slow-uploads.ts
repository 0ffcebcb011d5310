import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serviceNodeArgs } from '../src/app/host/node-heap';
import { freePort } from '../src/app/host/free-port';
import { parseBenchArgs } from './support/bench-args';

/*
 * Resident memory of the service (`npm start`, as a child process) under many slow uploads without
 * a valid API key: each connection announces a 256 KB JSON body and trickles it. The service must
 * refuse them from their headers and hold nothing for them; the run fails when the peak resident
 * memory is more than `--max-growth-mb` above the idle figure.
 */

interface Settings {
  readonly uploads: number;
  /** Bytes each upload sends per tick, and the tick. */
  readonly chunkBytes: number;
  readonly tickMs: number;
  /** How long every upload keeps trickling, unless the service closes it first. */
  readonly durationMs: number;
  readonly maxGrowthMb: number;
}

const defaults: Settings = { uploads: 2_000, chunkBytes: 1_024, tickMs: 250, durationMs: 10_000, maxGrowthMb: 50 };
const announcedBytes = 256 * 1024;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function startService(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const entry = path.join(__dirname, '..', 'src', 'app', 'host', 'main.js');
  const child = spawn(process.execPath, [...serviceNodeArgs, entry], {
    env: { ...process.env, PORT: String(port), SANDBOX_PORT: String(await freePort()), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ADMIN_API_KEY: 'bench-admin-key-0123456789abcdef' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 60_000;
  while (!output.includes('listening on')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the service did not start: ${output}`);
    await sleep(50);
  }
  return { child, port };
}

/** One slow upload; resolves when the service or the duration ends it, with whether the service answered 401. */
function slowUpload(port: number, settings: Settings): Promise<{ refused: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    const finish = () => {
      clearInterval(timer);
      socket.destroy();
      resolve({ refused: answer.startsWith('HTTP/1.1 401') });
    };
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(`POST /api/users HTTP/1.1\r\nHost: localhost\r\nx-api-key: m365b_0000000000000000_${'A'.repeat(43)}\r\ncontent-type: application/json\r\ncontent-length: ${announcedBytes}\r\n\r\n{"email":"`);
      timer = setInterval(() => {
        if (Date.now() - started > settings.durationMs) finish();
        else socket.write(Buffer.alloc(settings.chunkBytes, 0x61));
      }, settings.tickMs);
    });
  });
}

export async function run(args: string[]): Promise<void> {
  const settings = parseBenchArgs(args, defaults, 'slow-uploads [--uploads N] [--chunk-bytes N] [--tick-ms N] [--duration-ms N] [--max-growth-mb N]');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-uploads-'));
  const { child, port } = await startService(dataDir);
  const pid = child.pid as number;
  try {
    await sleep(2_000);
    const idle = rssMb(pid);
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
    const startedAt = Date.now();
    const uploads: Promise<{ refused: boolean }>[] = [];
    // Opened in waves so the listen backlog takes them all.
    for (let i = 0; i < settings.uploads; i += 100) {
      for (let j = i; j < Math.min(settings.uploads, i + 100); j += 1) uploads.push(slowUpload(port, settings));
      await sleep(20);
    }
    const outcomes = await Promise.all(uploads);
    const seconds = (Date.now() - startedAt) / 1000;
    await sleep(1_000);
    clearInterval(sampler);
    const after = rssMb(pid);
    const refused = outcomes.filter((o) => o.refused).length;
    const growth = peak - idle;
    process.stdout.write(
      `slow unauthenticated uploads: ${settings.uploads} (each announcing ${announcedBytes} bytes, ${settings.chunkBytes} bytes every ${settings.tickMs} ms)\n` +
        `  refused with 401 from their headers: ${refused}; all ended after ${seconds.toFixed(1)} s\n` +
        `  RSS idle ${idle.toFixed(1)} MB, peak ${peak.toFixed(1)} MB (+${growth.toFixed(1)} MB), after ${after.toFixed(1)} MB (bound: +${settings.maxGrowthMb} MB)\n`,
    );
    if (growth > settings.maxGrowthMb || refused !== settings.uploads) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}
