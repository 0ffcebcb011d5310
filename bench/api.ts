import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { loadConfig } from '../src/app/config';
import { startLocalHost } from '../src/app/host/local-host';
import { parseBenchArgs } from './support/bench-args';
import { emailOf, loadUsers } from './support/load-users';

interface Settings {
  readonly users: number;
  readonly requests: number;
  /** Requests in flight at once during a measurement (1: pure latency). */
  readonly concurrency: number;
  /** Users created per SQLite transaction while loading. */
  readonly loadBatch: number;
}

const defaults: Settings = { users: 100_000, requests: 2_000, concurrency: 1, loadBatch: 1_000 };
const warmupRequests = 200;

function parseArgs(args: readonly string[]): Settings {
  return parseBenchArgs(args, defaults, 'api [--users N] [--requests N] [--concurrency N] [--load-batch N]');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Response {
  readonly status: number;
  readonly body: string;
}

function request(agent: http.Agent, url: URL, apiKey: string, method: string, body?: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: { 'x-api-key': apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `count` requests, `concurrency` at a time; returns sorted latencies in ms. */
async function measure(count: number, concurrency: number, send: (i: number) => Promise<Response>, expectStatus: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const started = performance.now();
      const response = await send(i);
      latencies.push(performance.now() - started);
      if (response.status !== expectStatus) throw new Error(`request ${i} answered ${response.status}: ${response.body.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies.sort((a, b) => a - b);
}

function line(name: string, latencies: readonly number[], elapsedMs: number): string {
  const ms = (p: number) => percentile(latencies, p).toFixed(2);
  return `${name.padEnd(28)} p50 ${ms(50)} ms  p99 ${ms(99)} ms  max ${ms(100)} ms  (${latencies.length} requests, ${Math.round((latencies.length * 1000) / elapsedMs)} req/s)\n`;
}

/**
 * `npm run bench -- api`: loads users into the embedded store of a fresh DATA_DIR, starts the local
 * host in this process (sandbox mode, sandbox itself not started) and measures three admin API calls
 * over keep-alive HTTP. Target: p99 <= 20 ms.
 */
export async function run(args: string[]): Promise<void> {
  const settings = parseArgs(args);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-api-'));
  const apiKey = randomBytes(24).toString('base64url');
  try {
    const loadStarted = performance.now();
    const ids = await loadUsers(dataDir, settings);
    const loadMs = performance.now() - loadStarted;
    process.stdout.write(`loaded ${settings.users} users through createUser in ${(loadMs / 1000).toFixed(1)} s (${Math.round((settings.users * 1000) / loadMs)} users/s)\n`);

    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', SANDBOX_PORT: '0', ADMIN_API_KEY: apiKey, LOG_LEVEL: 'warn', M365_MODE: 'sandbox' });
    const host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'warn' }) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: settings.concurrency });
    const base = host.url;
    const pick = (i: number) => (i * 7919) % settings.users;
    const getById = (i: number) => request(agent, new URL(`${base}/users/${ids[pick(i)]}`), apiKey, 'GET');
    const getByEmail = (i: number) => request(agent, new URL(`${base}/users?email=${encodeURIComponent(emailOf(pick(i + 13)))}`), apiKey, 'GET');
    let created = 0;
    const post = () => request(agent, new URL(`${base}/users`), apiKey, 'POST', JSON.stringify({ email: `new${created++}@bench.example.com`, firstName: 'New', lastName: 'User' }));
    try {
      process.stdout.write(`HTTP keep-alive, ${settings.concurrency} request(s) in flight, ${settings.requests} measured requests each after ${warmupRequests} warm-up\n`);
      for (const [name, send, status] of [
        ['GET /api/users/{id}', getById, 200],
        ['GET /api/users?email=', getByEmail, 200],
        ['POST /api/users', post, 201],
      ] as const) {
        await measure(warmupRequests, settings.concurrency, send, status);
        const started = performance.now();
        const latencies = await measure(settings.requests, settings.concurrency, send, status);
        process.stdout.write(line(name, latencies, performance.now() - started));
      }
    } finally {
      agent.destroy();
      await host.stop(1_000);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
