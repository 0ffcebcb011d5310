import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/app/config';
import { startLocalHost, type LocalHost } from '../src/app/host/local-host';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { startSandbox } from '../src/adapters/sandbox/sandbox-server';
import { sandboxCall, type Json } from './support/sandbox-call';
import { sandboxTenants } from '../src/adapters/sandbox/seed';
import type { ProvisioningEvent, ProvisioningEventType } from '../src/domain/provisioning/provisioning-events';
import { parseBenchArgs } from './support/bench-args';
import { connectContoso } from './support/connect';

/**
 * `npm run bench -- provision [--users N] [--time-scale T] [--concurrency C]`: binds N users on one
 * connection and measures the pipeline end to end (admin API -> queue -> worker -> Graph -> events),
 * twice. First against the sandbox's Graph write budget (3,000 writes per 150 s, windows shrunk by
 * the time scale) with three writes per user (the create and two jobTitle changes) so the run spans several budget windows; then with throttling off, binding only.
 * The sandbox and the HTTP client driving the admin API run in a child process, so this process's
 * CPU time and memory are the service's.
 */
interface Settings {
  readonly users: number;
  readonly timeScale: number;
  readonly concurrency: number;
}

const defaults: Settings = { users: 2_000, timeScale: 5, concurrency: 64 };
const adminKey = 'bench-admin-key-0123456789abcdef';
const contoso = sandboxTenants.contoso;
const writeBudget = 3_000;
const writeWindowMs = 150_000;

function parseArgs(args: readonly string[]): Settings {
  return parseBenchArgs(args, defaults, 'provision [--users N] [--time-scale T] [--concurrency C]', (key, value) => value > 0 && (key === 'timeScale' || Number.isInteger(value)));
}

// ---- the sandbox and the admin API client, in a child process ---------------------------------

/** A batch of admin API calls the child makes for the parent, `concurrency` at a time. */
interface DriveRequest {
  readonly seq: number;
  readonly baseUrl: string;
  readonly calls: readonly { readonly method: string; readonly path: string; readonly json?: unknown }[];
  readonly concurrency: number;
  readonly keepBodies: boolean;
}

interface DriveResult {
  readonly seq: number;
  readonly results: { readonly status: number; readonly startedAtMs: number; readonly body?: Json }[];
  /** The child's CPU time so far (user + system), once the calls are done. */
  readonly cpuMicros: number;
}

async function serveSandbox(timeScale: number): Promise<void> {
  const sandbox = await startSandbox({ timeScale });
  process.on('message', (message: DriveRequest) => {
    const results = new Array<DriveResult['results'][number]>(message.calls.length);
    void pool(message.calls, message.concurrency, async (call, i) => {
      const startedAtMs = Date.now();
      const response = await fetch(`${message.baseUrl}/${call.path}`, {
        method: call.method,
        headers: { 'x-api-key': adminKey, ...(call.json === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(call.json === undefined ? {} : { body: JSON.stringify(call.json) }),
      });
      const text = await response.text();
      results[i] = { status: response.status, startedAtMs, ...(message.keepBodies && text !== '' ? { body: JSON.parse(text) as Json } : {}) };
    }).then(() => {
      const cpu = process.cpuUsage();
      process.send?.({ seq: message.seq, results, cpuMicros: cpu.user + cpu.system } satisfies DriveResult);
    });
  });
  process.send?.({ url: sandbox.url });
  process.on('disconnect', () => void sandbox.close().then(() => process.exit(0)));
}

interface SandboxProcess {
  readonly url: string;
  /** Makes admin API calls from the child, so their client-side cost is not this process's. */
  drive(baseUrl: string, calls: DriveRequest['calls'], options: { concurrency: number; keepBodies?: boolean }): Promise<DriveResult['results']>;
  /** The child's CPU time so far (sandbox and admin API client), in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): void;
}

function startSandboxProcess(timeScale: number): Promise<SandboxProcess> {
  const child: ChildProcess = fork(path.join(__dirname, 'run.js'), ['provision', '--sandbox-child', String(timeScale)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (result: DriveResult) => void>();
  let seq = 0;
  const send = (request: DriveRequest): Promise<DriveResult> =>
    new Promise((done) => {
      seq += 1;
      waiting.set(seq, done);
      child.send({ ...request, seq });
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the sandbox process exited with ${code ?? 'a signal'}`)));
    child.on('message', (message: { url: string } | DriveResult) => {
      if ('url' in message) {
        resolve({
          url: message.url,
          drive: async (baseUrl, calls, options) => (await send({ seq: 0, baseUrl, calls, concurrency: options.concurrency, keepBodies: options.keepBodies === true })).results,
          cpuMicros: async () => (await send({ seq: 0, baseUrl: '', calls: [], concurrency: 1, keepBodies: false })).cpuMicros,
          stop: () => child.disconnect(),
        });
        return;
      }
      waiting.get(message.seq)?.(message);
      waiting.delete(message.seq);
    });
  });
}

// ---- small HTTP helpers -----------------------------------------------------------------------


/** Runs `task` over `items` with at most `concurrency` at once. */
async function pool<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        await task(items[index] as T, index);
      }
    }),
  );
}

// ---- measuring --------------------------------------------------------------------------------

interface ServedRequest {
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly write: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function countEvents(host: LocalHost, connectionId: string, type: ProvisioningEventType): Promise<number> {
  return host.services.store.count('events', { pk: connectionId, where: [{ field: 'type', op: 'eq', value: type }] });
}

async function waitForEvents(host: LocalHost, connectionId: string, type: ProvisioningEventType, count: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while ((await countEvents(host, connectionId, type)) < count) {
    if (performance.now() > deadline) throw new Error(`only ${await countEvents(host, connectionId, type)} of ${count} ${type} events after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function allEvents(host: LocalHost, connectionId: string, type: ProvisioningEventType): Promise<ProvisioningEvent[]> {
  const out: ProvisioningEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await host.services.store.query<ProvisioningEvent>('events', { pk: connectionId, where: [{ field: 'type', op: 'eq', value: type }], limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...page.items.map((doc) => doc.data));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

/**
 * The sandbox's fixed write windows, rebuilt from its request log: a window opens at the first
 * write after the previous one ended. Budget use is the write rate over every window but the last
 * (which the work may not fill) against the allowed rate: idle time between a window's end and the
 * next write counts against it.
 */
function writeWindows(requests: readonly ServedRequest[], windowMs: number): { starts: number[]; counts: number[]; budgetUse: number | undefined } {
  const starts: number[] = [];
  const counts: number[] = [];
  for (const request of requests) {
    if (!request.write) continue;
    const at = Date.parse(request.time);
    const start = starts.at(-1);
    if (start === undefined || at - start >= windowMs) {
      starts.push(at);
      counts.push(0);
    }
    counts[counts.length - 1] = (counts.at(-1) ?? 0) + 1;
  }
  if (starts.length < 2) return { starts, counts, budgetUse: undefined };
  const spanMs = (starts.at(-1) as number) - (starts[0] as number);
  const full = counts.slice(0, -1).reduce((a, b) => a + b, 0);
  return { starts, counts, budgetUse: full / ((writeBudget / windowMs) * spanMs) };
}

interface RunOptions {
  readonly label: string;
  readonly users: number;
  readonly timeScale: number;
  readonly throttling: boolean;
  readonly lifecycle: boolean;
  readonly concurrency: number;
}

async function runOnce(options: RunOptions): Promise<void> {
  const sandbox = await startSandboxProcess(options.timeScale);
  const { url } = sandbox;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-provision-'));
  let host: LocalHost | undefined;
  try {
    const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, AUTHORITY_URL: url, GRAPH_BASE_URL: url, LOG_LEVEL: 'error', QUEUE_CONCURRENCY: String(options.concurrency) });
    host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'error' }) });
    const running = host;
    const connectionId = await connectContoso(running.url, adminKey, { settings: { exportAttributes: ['jobTitle'] } });
    await sandboxCall(`${url}/_sandbox/faults`, { method: 'POST', body: { throttling: options.throttling } });

    const run = Date.now().toString(36);
    const emails = Array.from({ length: options.users }, (_, i) => `bench-${run}-${i}@${contoso.defaultDomain}`);
    const created = await sandbox.drive(running.url, emails.map((email, i) => ({ method: 'POST', path: 'users', json: { email, firstName: 'Bench', lastName: `User ${i}`, jobTitle: 'Starter' } })), { concurrency: 32, keepBodies: true });
    const users = created.map((answer, i) => {
      if (answer.status !== 201) throw new Error(`creating user ${i} answered ${answer.status}`);
      return { id: answer.body.id as string, email: emails[i] as string };
    });
    const expect = (answers: DriveResult['results'], status: number, what: string): void => {
      const wrong = answers.find((a) => a.status !== status);
      if (wrong !== undefined) throw new Error(`${what} answered ${wrong.status}`);
    };

    const firstSeq = (await sandboxCall(`${url}/_sandbox/requests?since=999999999`)).body.lastSeq as number;
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const cpuBefore = process.cpuUsage();
    const childCpuBefore = await sandbox.cpuMicros();
    const started = performance.now();
    const startedAtMs = Date.now();

    const binds = await sandbox.drive(running.url, users.map((user) => ({ method: 'PUT', path: `connections/${connectionId}/users/${user.id}` })), { concurrency: options.concurrency });
    expect(binds, 202, 'binding');
    const boundAtMs = new Map(users.map((user, i) => [user.id, binds[i]?.startedAtMs ?? Number.NaN]));
    const timeoutMs = 30 * 60_000;
    await waitForEvents(running, connectionId, 'user_create_provision', options.users, timeoutMs);
    const creates = await allEvents(running, connectionId, 'user_create_provision');
    const lastCreateMs = Math.max(...creates.map((e) => Date.parse(e.at)));
    const latencies = creates.map((e) => Date.parse(e.at) - (boundAtMs.get(e.userId as string) ?? Number.NaN)).sort((a, b) => a - b);
    const bindSeconds = (lastCreateMs - startedAtMs) / 1000;

    if (options.lifecycle) {
      // Two changes per user, each its own write (suspending everyone would trip the mass-deactivation guard).
      for (const [round, jobTitle] of [[1, 'Seasoned'], [2, 'Veteran']] as const) {
        expect(await sandbox.drive(running.url, users.map((user) => ({ method: 'PATCH', path: `users/${user.id}`, json: { jobTitle } })), { concurrency: options.concurrency }), 200, 'patching');
        await waitForEvents(running, connectionId, 'user_update_provision', options.users * round, timeoutMs);
      }
    }
    const elapsedSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const childCpuMs = ((await sandbox.cpuMicros()) - childCpuBefore) / 1000;
    clearInterval(sampler);

    const log = (await sandboxCall(`${url}/_sandbox/requests?since=${firstSeq}`)).body.value as (ServedRequest & { batched: boolean })[];
    const served = log.filter((r) => !r.path.startsWith('/v1.0/$batch'));
    const roundTrips = log.filter((r) => !r.batched).length;
    const writes = served.filter((r) => r.write).length;
    const throttled = served.filter((r) => r.status === 429).length;
    const windowMs = writeWindowMs / options.timeScale;
    const windows = writeWindows(served, windowMs);
    const allowedPerSecond = (writeBudget / windowMs) * 1000;

    const token = (await sandboxCall(`${url}/_sandbox/tenants/${contoso.id}/tokens`, { method: 'POST', body: { upn: contoso.adminUpn } })).body.access_token as string;
    const accounts = new Map<string, number>();
    let next: string | undefined = `${url}/v1.0/users?$select=userPrincipalName&$top=999`;
    while (next !== undefined) {
      const page = await sandboxCall(next, { token });
      for (const user of page.body.value as { userPrincipalName: string }[]) accounts.set(user.userPrincipalName.toLowerCase(), (accounts.get(user.userPrincipalName.toLowerCase()) ?? 0) + 1);
      next = page.body['@odata.nextLink'] as string | undefined;
    }
    const lost = users.filter((u) => (accounts.get(u.email) ?? 0) === 0).length;
    const duplicated = users.filter((u) => (accounts.get(u.email) ?? 0) > 1).length;
    const perUserEvents = new Map<string, number>();
    for (const event of creates) perUserEvents.set(event.userId as string, (perUserEvents.get(event.userId as string) ?? 0) + 1);
    const duplicateEvents = [...perUserEvents.values()].filter((n) => n > 1).length;

    const changes = options.lifecycle ? options.users * 3 : options.users;
    const lines = [
      `${options.label}: ${options.users} users, throttling ${options.throttling ? `on (time scale ${options.timeScale}: ${writeBudget} writes per ${(windowMs / 1000).toFixed(1)} s)` : 'off'}, queue concurrency ${options.concurrency}`,
      `  bind -> provisioned: ${(options.users / bindSeconds).toFixed(0)} users/s (${bindSeconds.toFixed(1)} s); latency p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`,
      options.lifecycle ? `  whole run (create + two updates per user): ${elapsedSeconds.toFixed(1)} s` : undefined,
      `  Graph: ${served.length} requests in ${roundTrips} round trips ($batch), ${writes} writes (${(writes / elapsedSeconds).toFixed(1)} writes/s over the run${options.throttling ? ` against ${allowedPerSecond.toFixed(1)} allowed` : ''}), 429s ${throttled} (${((throttled / Math.max(1, served.length)) * 100).toFixed(2)}% of requests)`,
      options.throttling
        ? `  write windows: ${windows.counts.join(' + ')} writes; budget use over the full windows ${windows.budgetUse === undefined ? 'n/a (one window)' : windows.budgetUse.toFixed(3)}`
        : undefined,
      `  CPU ${((cpu.user + cpu.system) / 1000 / changes).toFixed(2)} ms per ${options.lifecycle ? 'user change' : 'user'} (the sandbox and the admin API client, in their own process: ${(childCpuMs / changes).toFixed(2)} ms); peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB`,
      `  accounts: ${lost} lost, ${duplicated} duplicated; users with more than one create event: ${duplicateEvents}`,
    ];
    process.stdout.write(`${lines.filter((l) => l !== undefined).join('\n')}\n`);
  } finally {
    await host?.stop(1_000);
    sandbox.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  if (args[0] === '--sandbox-child') {
    await serveSandbox(Number(args[1]));
    return;
  }
  const settings = parseArgs(args);
  await runOnce({ label: 'throttled', users: settings.users, timeScale: settings.timeScale, throttling: true, lifecycle: true, concurrency: settings.concurrency });
  await runOnce({ label: 'unthrottled', users: settings.users, timeScale: 1, throttling: false, lifecycle: false, concurrency: settings.concurrency });
}
