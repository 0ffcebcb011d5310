import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { startSandbox } from '../src/adapters/sandbox/sandbox-server';
import { sandboxTenants } from '../src/adapters/sandbox/seed';
import { loadConfig } from '../src/app/config';
import { startLocalHost } from '../src/app/host/local-host';
import { serviceHeapMb, serviceNodeArgs } from '../src/app/host/node-heap';
import { parseBenchArgs } from './support/bench-args';
import { connectContoso } from './support/connect';

/**
 * Import at scale (issue 7): a 100,000-user sandbox tenant, the preview's first page and a full
 * scan through the admin API (Graph list pages per scan), an import of 10,000 users by id, and the
 * service's peak RSS. The service runs in a child process of its own, started with the Node.js
 * options `npm start` gives it (`--service-heap-mb 0` leaves V8 to size the heap for this machine); this
 * process plays Microsoft 365 (the sandbox, seeded through its in-process control) and the admin
 * calling the API, so neither counts towards the service's memory. Graph throttling is on, with
 * the documented budgets.
 */
interface Settings {
  readonly users: number;
  readonly import: number;
  readonly pageLimit: number;
  /** The service's V8 old space (`--max-old-space-size`): by default what `npm start` gives it; 0 leaves V8's own sizing for this machine. */
  readonly serviceHeapMb: number;
}

const defaults: Settings = { users: 100_000, import: 10_000, pageLimit: 500, serviceHeapMb };
/** Ids per import request: 5,000 quoted GUIDs stay under the API's 256 KB body limit. */
const idsPerRequest = 5_000;
const serviceRole = 'IMPORT_BENCH_SERVICE';
const tenant = sandboxTenants.contoso;

function parseArgs(args: readonly string[]): Settings {
  return parseBenchArgs(args, defaults, 'import [--users N] [--import N] [--page-limit N] [--service-heap-mb N]', (key, value) => Number.isInteger(value) && value >= (key === 'serviceHeapMb' ? 0 : 1));
}

interface ServiceMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Peak RSS of the service process so far. */
  readonly maxRss: number;
}

/** The child's side: the local host on the sandbox the parent serves, answering memory questions until the parent goes away. */
async function serveService(): Promise<void> {
  const config = loadConfig({ ...process.env, PORT: '0', LOG_LEVEL: 'silent' });
  const host = await startLocalHost(config, { timers: false, sandbox: false, logger: createLogger({ level: 'silent' }) });
  process.on('message', (question: { memory: true; gc?: boolean }) => {
    if (question.gc === true) (globalThis as { gc?: () => void }).gc?.();
    const usage = process.memoryUsage();
    const answer: ServiceMemory = { rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, maxRss: process.resourceUsage().maxRSS * 1024 };
    process.send?.(answer);
  });
  process.send?.({ url: host.url });
  process.on('disconnect', () => {
    void host.stop(1_000).then(() => process.exit(0));
  });
}

if (process.env[serviceRole] === '1') void serveService();

function startServiceProcess(env: Record<string, string>, heapMb: number): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const execArgv = heapMb === serviceHeapMb ? [...serviceNodeArgs] : heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [];
    const child = fork(__filename, [], { execArgv, env: { ...process.env, ...env, [serviceRole]: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (ready: { url: string }) => resolve({ child, url: ready.url }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the service process exited with ${code ?? 'a signal'}`)));
  });
}

function serviceMemory(child: ChildProcess): Promise<ServiceMemory> {
  return new Promise((resolve) => {
    child.once('message', (answer: ServiceMemory) => resolve(answer));
    child.send({ memory: true });
  });
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

export async function run(args: string[]): Promise<void> {
  const settings = parseArgs(args);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-import-bench-'));
  const sandbox = await startSandbox({});
  const seedStarted = performance.now();
  sandbox.control.seedUsers(tenant.id, settings.users);
  out(`sandbox: ${settings.users} users seeded in ${seconds(performance.now() - seedStarted)}; Graph throttling on`);
  const adminKey = randomBytes(24).toString('base64url');
  let service: ChildProcess | undefined;
  try {
    const started0 = await startServiceProcess({ DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, AUTHORITY_URL: sandbox.url, GRAPH_BASE_URL: sandbox.url, SANDBOX_PORT: String(sandbox.port) }, settings.serviceHeapMb);
    service = started0.child;
    const child = service;
    const memory = async (): Promise<string> => {
      const usage = await serviceMemory(child);
      return `service RSS ${megabytes(usage.rss)} (peak so far ${megabytes(usage.maxRss)}), heap ${megabytes(usage.heapUsed)}/${megabytes(usage.heapTotal)}`;
    };
    const base = started0.url;
    const requestsSince = (since: number) => sandbox.control.requests(since);
    const lastSeq = () => sandbox.control.requests().at(-1)?.seq ?? 0;
    const api = async (pathBelowApi: string, init: { method?: string; json?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
      const answer = await fetch(`${base}/${pathBelowApi}`, {
        method: init.method ?? 'GET',
        headers: { 'x-api-key': adminKey, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
      });
      const text = await answer.text();
      return { status: answer.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
    };

    const connectionId = await connectContoso(base, adminKey, { name: 'Contoso' });

    const heapNote = settings.serviceHeapMb === serviceHeapMb ? `V8 old space ${serviceHeapMb} MB, as npm start runs it` : settings.serviceHeapMb > 0 ? `V8 old space ${settings.serviceHeapMb} MB` : "V8's own heap sizing for this machine";
    out(`service started and connected (${heapNote}): ${await memory()}`);

    // Time to the first page: a fresh listing of 50 users with their statuses.
    let started = performance.now();
    const first = await api(`connections/${connectionId}/m365/users?limit=50`);
    const firstMs = performance.now() - started;
    if (first.status !== 200) throw new Error(`the preview answered ${first.status}`);
    out(`preview, first page of 50: ${seconds(firstMs)}`);

    // A full scan through the API, keeping the ids of the first users to import.
    let since = lastSeq();
    const toImport: string[] = [];
    let listed = 0;
    let apiPages = 0;
    let cursor: string | undefined;
    started = performance.now();
    do {
      const page = await api(`connections/${connectionId}/m365/users?limit=${settings.pageLimit}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      if (page.status !== 200) throw new Error(`a preview page answered ${page.status}: ${JSON.stringify(page.body)}`);
      const items = page.body.items as { id: string; status: string; email?: string }[];
      listed += items.length;
      apiPages += 1;
      for (const item of items) {
        // Users of the claimed domain only: the others would fail (their domain is not the connection's).
        if (toImport.length < settings.import && item.status === 'new' && item.email?.endsWith(`@${tenant.defaultDomain}`) === true) toImport.push(item.id);
      }
      cursor = page.body.nextCursor as string | undefined;
    } while (cursor !== undefined);
    const scanMs = performance.now() - started;
    const scanRequests = requestsSince(since);
    const listPages = scanRequests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1.0/users?')).length;
    out(`preview, full scan: ${listed} users in ${apiPages} API pages of ${settings.pageLimit} in ${seconds(scanMs)}; Graph requests: ${scanRequests.length} (${listPages} list pages; target <= 101); ${await memory()}`);

    // Import by id, in requests of 5,000 ids, the jobs running side by side.
    since = lastSeq();
    started = performance.now();
    const jobIds: string[] = [];
    for (let i = 0; i < toImport.length; i += idsPerRequest) {
      const answer = await api(`connections/${connectionId}/imports`, { method: 'POST', json: { m365UserIds: toImport.slice(i, i + idsPerRequest) } });
      if (answer.status !== 202) throw new Error(`starting an import answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      jobIds.push(answer.body.jobId as string);
    }
    const finished = new Map<string, Record<string, unknown>>();
    while (finished.size < jobIds.length) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const jobId of jobIds) {
        if (finished.has(jobId)) continue;
        const job = (await api(`imports/${jobId}?limit=1`)).body;
        if (job.status === 'completed' || job.status === 'failed') finished.set(jobId, job);
      }
    }
    const importMs = performance.now() - started;
    const jobs = [...finished.values()];
    const sum = (field: string) => jobs.reduce((total, job) => total + (job[field] as number), 0);
    const importRequests = requestsSince(since);
    const throttled = importRequests.filter((r) => r.status === 429).length;
    out(
      `import of ${toImport.length} users by id (${jobIds.length} jobs): ${seconds(importMs)}, ${(toImport.length / (importMs / 1000)).toFixed(0)} users/s; ` +
        `${sum('succeeded')} imported, ${sum('skipped')} skipped, ${sum('failed')} failed; statuses ${jobs.map((j) => j.status as string).join(', ')}; ` +
        `Graph requests: ${importRequests.filter((r) => !r.batched).length} ($batch of id lookups: ${importRequests.filter((r) => r.batched).length} inside, ${throttled} throttled), none per user; ${await memory()}`,
    );

    // The statuses of what was imported, scanned back through the API.
    started = performance.now();
    let imported = 0;
    cursor = undefined;
    do {
      const page = await api(`connections/${connectionId}/m365/users?status=imported&limit=${settings.pageLimit}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      imported += (page.body.items as unknown[]).length;
      cursor = page.body.nextCursor as string | undefined;
    } while (cursor !== undefined);
    out(`preview, full scan with status=imported: ${imported} users in ${seconds(performance.now() - started)}; ${await memory()}`);

    const { maxRss } = await serviceMemory(child);
    out(`service peak RSS: ${megabytes(maxRss)} (target <= 200 MB)`);
    if (listPages > 101 || sum('succeeded') !== toImport.length || maxRss > 200 * 1024 * 1024) process.exitCode = 1;
  } finally {
    service?.disconnect();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
