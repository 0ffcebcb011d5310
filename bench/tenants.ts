import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { sandboxClient } from '../src/adapters/sandbox/sandbox-authority';
import type { SandboxHandle } from '../src/adapters/sandbox/sandbox-server';
import { appWriteBudget } from '../src/adapters/sandbox/graph-throttling';
import { loadConfig } from '../src/app/config';
import { startLocalHost, type LocalHost } from '../src/app/host/local-host';
import { parseBenchArgs } from './support/bench-args';
import { connectTenant } from './support/connect';
import { sandboxCall } from './support/sandbox-call';
import { addBenchTenants, driveApi, servedAsSandboxChild, startSandboxProcess, type BenchTenant, type DriveResult, type SandboxProcess } from './support/sandbox-process';

/**
 * `npm run bench -- tenants [--tenants T] [--users N] [--time-scale S] [--concurrency C]`: T connected
 * tenants (default 20), N users bound in each at once (default 2,000, one account created per user),
 * under Graph's write limits time-scaled by S (default 1; 4 makes the app's 35,000 writes per 5
 * minutes 35,000 per 75 s and each tenant's 3,000 per 150 s 3,000 per 37.5 s; below 1 slows them
 * for a machine that cannot outrun the real limits). The service is told the same scaled limits. Prints, from the sandbox's request log: the use of the app-wide budget and
 * Jain's fairness index of per-tenant write throughput while every tenant still has work, lost and
 * duplicated accounts, and the share of the service's requests answered 429.
 */
interface Settings {
  readonly tenants: number;
  readonly users: number;
  readonly timeScale: number;
  readonly concurrency: number;
}

const defaults: Settings = { tenants: 20, users: 2_000, timeScale: 1, concurrency: 64 };
const adminKey = 'bench-admin-key-0123456789abcdef';
const appWindowMs = 300_000;

interface WriteLog {
  /** Successful account creations by the service: tenant and instant. */
  readonly creates: { readonly tenantId: string; readonly atMs: number }[];
  readonly serviceRequests: number;
  readonly throttled: number;
}

// ---- in the sandbox's process -------------------------------------------------------------------

function writeLog(sandbox: SandboxHandle, payload: { since: number }): Promise<WriteLog> {
  const creates: WriteLog['creates'] = [];
  let serviceRequests = 0;
  let throttled = 0;
  for (const entry of sandbox.control.requests(payload.since)) {
    if (entry.appId !== sandboxClient.clientId || entry.path.startsWith('/v1.0/$batch')) continue;
    serviceRequests += 1;
    if (entry.status === 429) throttled += 1;
    if (entry.method === 'POST' && entry.path.startsWith('/v1.0/users') && entry.status === 201 && entry.tenantId !== null) creates.push({ tenantId: entry.tenantId, atMs: Date.parse(entry.time) });
  }
  return Promise.resolve({ creates, serviceRequests, throttled });
}

/** How many accounts each expected UPN has in its tenant (0: lost, 2 or more: duplicated). */
async function accountCounts(sandbox: SandboxHandle, payload: { tenants: BenchTenant[] }): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const tenant of payload.tenants) {
    const token = sandbox.control.issueToken(tenant.id, tenant.adminUpn, undefined, 'bench-auditor').access_token;
    let next: string | undefined = `${sandbox.url}/v1.0/users?$select=userPrincipalName&$top=999`;
    while (next !== undefined) {
      const page = await sandboxCall(next, { token });
      for (const user of page.body.value as { userPrincipalName: string }[]) counts[user.userPrincipalName.toLowerCase()] = (counts[user.userPrincipalName.toLowerCase()] ?? 0) + 1;
      next = page.body['@odata.nextLink'] as string | undefined;
    }
  }
  return counts;
}

const childCommands = {
  addTenants: (sandbox: SandboxHandle, payload: { count: number; users: number }) => addBenchTenants(sandbox, payload),
  drive: driveApi,
  writeLog,
  accountCounts,
  lastSeq: (sandbox: SandboxHandle) => Promise.resolve(sandbox.control.requests().at(-1)?.seq ?? 0),
};

// ---- in the benchmark's process -----------------------------------------------------------------

/** Jain's fairness index: 1 when every share is equal, 1/n when one takes everything. */
export function jainIndex(values: readonly number[]): number {
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

function expectAll(results: readonly DriveResult[], status: number, what: string): void {
  const wrong = results.find((r) => r.status !== status);
  if (wrong !== undefined) throw new Error(`${what} answered ${wrong.status}: ${JSON.stringify(wrong.body)}`);
}

async function runBench(settings: Settings): Promise<void> {
  const sandbox: SandboxProcess = await startSandboxProcess('tenants', settings.timeScale);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-tenants-'));
  let host: LocalHost | undefined;
  try {
    const tenants = await sandbox.command<BenchTenant[]>('addTenants', { count: settings.tenants, users: 0 });
    const config = loadConfig({
      PORT: '0',
      DATA_DIR: dataDir,
      ADMIN_API_KEY: adminKey,
      AUTHORITY_URL: sandbox.url,
      GRAPH_BASE_URL: sandbox.url,
      LOG_LEVEL: 'error',
      QUEUE_CONCURRENCY: String(settings.concurrency),
      GRAPH_APP_WRITES_PER_5_MINUTES: String(Math.round(appWriteBudget * settings.timeScale)),
      GRAPH_TENANT_WRITES_PER_150_SECONDS: String(Math.round(3_000 * settings.timeScale)),
    });
    host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'error' }) });
    const running = host;
    const connectionIds: string[] = [];
    for (const tenant of tenants) connectionIds.push(await connectTenant(running.url, adminKey, tenant, { name: tenant.name }));

    // Directory users first (not measured), then every binding at once, the tenants interleaved.
    const people = tenants.flatMap((tenant, t) => Array.from({ length: settings.users }, (_, i) => ({ t, email: `${tenant.name}.person${i}@${tenant.domain}`, i })));
    const created = await sandbox.command<DriveResult[]>('drive', {
      baseUrl: running.url,
      adminKey,
      calls: people.map((p) => ({ method: 'POST', path: 'users', json: { email: p.email, firstName: 'Bench', lastName: `Person ${p.i}` } })),
      concurrency: 32,
      keepBodies: true,
    });
    expectAll(created, 201, 'creating a directory user');
    const order = Array.from({ length: settings.users }, (_, i) => tenants.map((_t, t) => t * settings.users + i)).flat();
    const since = await sandbox.command<number>('lastSeq');
    const started = Date.now();
    const binds = await sandbox.command<DriveResult[]>('drive', {
      baseUrl: running.url,
      adminKey,
      calls: order.map((index) => ({ method: 'PUT', path: `connections/${connectionIds[(people[index] as (typeof people)[number]).t] as string}/users/${(created[index]?.body as { id: string }).id}` })),
      concurrency: settings.concurrency,
    });
    expectAll(binds, 202, 'binding');
    const bindSeconds = (Date.now() - started) / 1000;

    const total = tenants.length * settings.users;
    const deadline = Date.now() + 60 * 60_000;
    let log = await sandbox.command<WriteLog>('writeLog', { since });
    while (log.creates.length < total && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      log = await sandbox.command<WriteLog>('writeLog', { since });
    }
    const seconds = (Date.now() - started) / 1000;

    const byTenant = new Map<string, number[]>(tenants.map((t) => [t.id, []]));
    for (const create of log.creates) byTenant.get(create.tenantId)?.push(create.atMs);
    const firstMs = Math.min(...log.creates.map((c) => c.atMs));
    // Every tenant has work until the first one has had all its accounts created.
    const allBusyUntilMs = Math.min(...[...byTenant.values()].map((times) => (times.length >= settings.users ? Math.max(...times) : Number.POSITIVE_INFINITY)));
    const windowEndMs = Number.isFinite(allBusyUntilMs) ? allBusyUntilMs : Date.now();
    const spanS = (windowEndMs - firstMs) / 1000;
    const perTenant = [...byTenant.values()].map((times) => times.filter((at) => at <= windowEndMs).length / spanS);
    const allowedPerS = (appWriteBudget / appWindowMs) * 1000 * settings.timeScale;
    const writesInSpan = log.creates.filter((c) => c.atMs <= windowEndMs).length;
    const overallPerS = log.creates.length / ((Math.max(...log.creates.map((c) => c.atMs)) - firstMs) / 1000);

    const counts = await sandbox.command<Record<string, number>>('accountCounts', { tenants });
    const lost = people.filter((p) => (counts[p.email] ?? 0) === 0).length;
    const duplicated = people.filter((p) => (counts[p.email] ?? 0) > 1).length;

    const lines = [
      `tenants: ${tenants.length} tenants x ${settings.users} users bound at once (${total} accounts to create), time scale ${settings.timeScale}: the app may write ${allowedPerS.toFixed(1)}/s (35,000 per ${(appWindowMs / 1000 / settings.timeScale).toFixed(1)} s), a tenant ${((3_000 / 150) * settings.timeScale).toFixed(1)}/s`,
      `  binding requests took ${bindSeconds.toFixed(1)} s; all accounts created after ${seconds.toFixed(1)} s (${log.creates.length} of ${total})`,
      `  while every tenant had work (${spanS.toFixed(1)} s): ${(writesInSpan / spanS).toFixed(1)} writes/s, budget use ${(writesInSpan / spanS / allowedPerS).toFixed(3)} (target >= 0.9); Jain's fairness index ${jainIndex(perTenant).toFixed(4)} (target >= 0.95); per tenant min ${Math.min(...perTenant).toFixed(2)}/s, max ${Math.max(...perTenant).toFixed(2)}/s`,
      `  whole run: ${overallPerS.toFixed(1)} writes/s, budget use ${(overallPerS / allowedPerS).toFixed(3)}`,
      `  accounts: ${lost} lost, ${duplicated} duplicated (target 0 and 0)`,
      `  the service's Graph requests: ${log.serviceRequests}, answered 429: ${log.throttled} (${((log.throttled / Math.max(1, log.serviceRequests)) * 100).toFixed(2)} %, target <= 5 %)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await host?.stop(1_000);
    sandbox.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  if (await servedAsSandboxChild(args, childCommands)) return;
  await runBench(parseBenchArgs(args, defaults, 'tenants [--tenants T] [--users N] [--time-scale S] [--concurrency C]', (key, value) => value > 0 && (key === 'timeScale' || Number.isInteger(value))));
}
