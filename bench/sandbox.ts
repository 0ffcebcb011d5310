import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loopbackCertificatePem } from '../src/adapters/sandbox/loopback-tls';
import { startSandbox } from '../src/adapters/sandbox/sandbox-server';
import { sandboxTenants } from '../src/adapters/sandbox/seed';
import { parseBenchArgs } from './support/bench-args';

/**
 * How fast the sandbox serves simple Graph GETs with throttling off, and how much memory a
 * 100,000-user tenant takes. The load runs in a worker thread (the second core) over keep-alive
 * HTTPS connections, so the client does not compete with the server for its event loop.
 */
interface Settings {
  readonly users: number;
  readonly seconds: number;
  readonly concurrency: number;
}

const defaults: Settings = { users: 100_000, seconds: 10, concurrency: 32 };

interface LoadJob {
  readonly sandboxBenchLoad: true;
  readonly url: string;
  readonly token: string;
  readonly paths: string[];
  readonly seconds: number;
  readonly concurrency: number;
}

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly latenciesMs: number[];
}

function parseArgs(args: readonly string[]): Settings {
  return parseBenchArgs(args, defaults, 'sandbox [--users N] [--seconds N] [--concurrency N]');
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

/**
 * A bare keep-alive HTTP/1.1 client over TLS: one request in flight per connection, requests
 * prebuilt as bytes. Node's http client costs more CPU per request than the sandbox does, and
 * would otherwise be what this benchmark measures.
 */
function connectLane(url: URL): Promise<{ get(request: Buffer): Promise<number>; close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: loopbackCertificatePem, servername: url.hostname === '127.0.0.1' ? undefined : url.hostname }, () => {
      socket.setNoDelay(true);
      let pending: ((status: number) => void) | undefined;
      let buffered: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        for (;;) {
          const headerEnd = buffered.indexOf('\r\n\r\n');
          if (headerEnd < 0) return;
          const head = buffered.subarray(0, headerEnd).toString('latin1');
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffered.length < headerEnd + 4 + length) return;
          buffered = buffered.subarray(headerEnd + 4 + length);
          const done = pending;
          pending = undefined;
          done?.(Number(head.slice(9, 12)));
        }
      });
      socket.on('error', () => pending?.(0));
      resolve({
        get: (request) =>
          new Promise<number>((done) => {
            pending = done;
            socket.write(request);
          }),
        close: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

async function load(job: LoadJob): Promise<LoadResult> {
  const url = new URL(job.url);
  const requests = job.paths.map((path) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${job.token}\r\nConnection: keep-alive\r\n\r\n`, 'latin1'));
  const lanes = await Promise.all(Array.from({ length: job.concurrency }, () => connectLane(url)));
  const deadline = performance.now() + job.seconds * 1000;
  const latenciesMs: number[] = [];
  let count = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    lanes.map(async (lane, index) => {
      let i = index;
      while (performance.now() < deadline) {
        const request = requests[i % requests.length] as Buffer;
        i += job.concurrency;
        const t0 = performance.now();
        const status = await lane.get(request);
        latenciesMs.push(performance.now() - t0);
        count += 1;
        if (status !== 200) errors += 1;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  for (const lane of lanes) lane.close();
  return { requests: count, errors, elapsedMs, latenciesMs };
}

if (!isMainThread && (workerData as Partial<LoadJob> | undefined)?.sandboxBenchLoad) {
  void load(workerData as LoadJob).then((result) => parentPort?.postMessage(result));
}

function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: job });
    worker.once('message', (result: LoadResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

export async function run(args: string[]): Promise<void> {
  const settings = parseArgs(args);
  const gc = (globalThis as { gc?: () => void }).gc;
  const baseline = process.memoryUsage();
  const sandbox = await startSandbox({});
  try {
    sandbox.control.setThrottling(false);
    const tenant = sandboxTenants.contoso;
    const seedStarted = performance.now();
    sandbox.control.seedUsers(tenant.id, settings.users);
    const seedMs = performance.now() - seedStarted;
    gc?.();
    const seeded = process.memoryUsage();
    process.stdout.write(
      `seeded ${settings.users} users in ${(seedMs / 1000).toFixed(1)} s; memory with the tenant${gc ? ' (after GC)' : ' (run with node --expose-gc for a settled figure)'}: ` +
        `RSS ${megabytes(seeded.rss)} (+${megabytes(seeded.rss - baseline.rss)}), heap used ${megabytes(seeded.heapUsed)} (+${megabytes(seeded.heapUsed - baseline.heapUsed)})\n`,
    );

    const token = sandbox.control.issueToken(tenant.id, tenant.adminUpn).access_token;
    const step = Math.max(1, Math.floor(settings.users / 1000));
    const paths: string[] = [];
    for (let n = 1; n <= settings.users; n += step) {
      paths.push(`/v1.0/users/sandbox.user${n + 37}@${tenant.defaultDomain}`);
      paths.push(`/v1.0/users/sandbox.user${n + 37}@${tenant.defaultDomain}?$select=id,displayName,accountEnabled`);
    }
    paths.push(`/v1.0/users?$filter=${encodeURIComponent(`userPrincipalName eq 'sandbox.user${settings.users}@${tenant.defaultDomain}'`)}`);
    // Warm up TLS sessions and JIT, then measure.
    await runLoad({ sandboxBenchLoad: true, url: sandbox.url, token, paths, seconds: 1, concurrency: settings.concurrency });
    const result = await runLoad({ sandboxBenchLoad: true, url: sandbox.url, token, paths, seconds: settings.seconds, concurrency: settings.concurrency });
    const sorted = [...result.latenciesMs].sort((a, b) => a - b);
    const pct = (p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN).toFixed(1);
    const after = process.memoryUsage();
    process.stdout.write(
      `simple Graph GETs, throttling off, ${settings.concurrency} keep-alive connections for ${settings.seconds} s: ` +
        `${(result.requests / (result.elapsedMs / 1000)).toFixed(0)} req/s (${result.requests} requests, ${result.errors} not 200), ` +
        `latency p50 ${pct(50)} ms, p99 ${pct(99)} ms; RSS after load ${megabytes(after.rss)}, heap used ${megabytes(after.heapUsed)}\n`,
    );
    if (result.errors > 0) process.exitCode = 1;
  } finally {
    await sandbox.close();
  }
}
