import { InvocationContext } from '@azure/functions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { subscriptionsTimer } from '../functions/timer/subscriptions';
import { createLogger } from '../src/adapters/logging/pino-logger';
import type { SandboxHandle } from '../src/adapters/sandbox/sandbox-server';
import { sandboxClient } from '../src/adapters/sandbox/sandbox-authority';
import { loadConfig } from '../src/app/config';
import { startLocalHost, type LocalHost } from '../src/app/host/local-host';
import { parseBenchArgs } from './support/bench-args';
import { connectTenant } from './support/connect';
import { sandboxCall } from './support/sandbox-call';
import { addBenchTenants, percentile, pool, servedAsSandboxChild, startSandboxProcess, type BenchTenant, type SandboxProcess } from './support/sandbox-process';

/**
 * `npm run bench -- notifications [--accounts N] [--tenants T] [--rate R] [--seconds S] [--concurrency C]`:
 * N accounts (default 10,000) imported and bound across T connected tenants (default 10), then R
 * changes per second (default 100) for S seconds made in the sandbox by another app (an admin
 * centre: its writes do not count against the service's budgets), each to a different bound
 * account's givenName. Graph's change notifications tell the service; it reads the account and
 * PATCHes it back. Prints p50 and p99 from each change to the PATCH that corrects it (both taken
 * from the sandbox's request log); no reconcile run takes part. Throttling is on at real time scale:
 * with the default 10 tenants each sees 10 corrections per second against its 20 allowed.
 */
interface Settings {
  readonly accounts: number;
  readonly tenants: number;
  readonly rate: number;
  readonly seconds: number;
  readonly concurrency: number;
}

const defaults: Settings = { accounts: 10_000, tenants: 10, rate: 100, seconds: 30, concurrency: 64 };
const adminKey = 'bench-admin-key-0123456789abcdef';
/** The app the changes are made with, as an admin centre would make them. */
const portalAppId = 'bench-admin-centre';
const settleMs = 60_000;

interface Target {
  readonly tenantId: string;
  readonly id: string;
}

interface Corrections {
  readonly changes: number;
  readonly corrected: number;
  readonly latenciesMs: number[];
  readonly serviceRequests: number;
  readonly serviceThrottled: number;
}

// ---- in the sandbox's process -------------------------------------------------------------------

let targets: Target[] = [];

/** Lists the bound accounts (every generated user) of each tenant through Graph, as the admin centre. */
async function listTargets(sandbox: SandboxHandle, tenants: readonly BenchTenant[]): Promise<number> {
  targets = [];
  for (const tenant of tenants) {
    const token = sandbox.control.issueToken(tenant.id, tenant.adminUpn, undefined, portalAppId).access_token;
    let next: string | undefined = `${sandbox.url}/v1.0/users?$select=id,userPrincipalName&$top=999`;
    while (next !== undefined) {
      const page = await sandboxCall(next, { token });
      for (const user of page.body.value as { id: string; userPrincipalName: string }[]) if (!user.userPrincipalName.startsWith('admin@')) targets.push({ tenantId: tenant.id, id: user.id });
      next = page.body['@odata.nextLink'] as string | undefined;
    }
  }
  return targets.length;
}

/** `rate` changes per second for `seconds`, each to another account, paced from the start (not from each answer). */
async function makeChanges(sandbox: SandboxHandle, payload: { rate: number; seconds: number }): Promise<{ made: number; failed: number }> {
  // A fixed shuffle, so runs change the same accounts.
  let seed = 42;
  const shuffled = [...targets];
  for (let i = shuffled.length - 1; i > 0; i -= 1) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = seed % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as Target, shuffled[i] as Target];
  }
  const count = Math.min(shuffled.length, Math.round(payload.rate * payload.seconds));
  const tokens = new Map<string, string>();
  const tokenOf = (tenantId: string): string => {
    let token = tokens.get(tenantId);
    if (token === undefined) {
      token = sandbox.control.issueToken(tenantId, `admin@${sandbox.control.tenants().find((t) => t.id === tenantId)?.domains[0]?.id ?? ''}`, undefined, portalAppId).access_token;
      tokens.set(tenantId, token);
    }
    return token;
  };
  const startedAt = Date.now();
  const answers: Promise<boolean>[] = [];
  for (let i = 0; i < count; i += 1) {
    const dueAt = startedAt + (i * 1000) / payload.rate;
    const waitMs = dueAt - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const target = shuffled[i] as Target;
    answers.push(sandboxCall(`${sandbox.url}/v1.0/users/${target.id}`, { method: 'PATCH', token: tokenOf(target.tenantId), body: { givenName: `Changed ${i}` } }).then((a) => a.status === 204, () => false));
  }
  const results = await Promise.all(answers);
  return { made: results.filter(Boolean).length, failed: results.filter((ok) => !ok).length };
}

/** Pairs each change with the service's first PATCH of that account after it, from the request log. */
function corrections(sandbox: SandboxHandle, payload: { since: number }): Promise<Corrections> {
  const log = sandbox.control.requests(payload.since);
  const account = (p: string): string | undefined => /^\/v1\.0\/users\/([0-9a-f-]{36})$/.exec(p)?.[1];
  const changedAt = new Map<string, number>();
  const correctedAt = new Map<string, number>();
  let serviceRequests = 0;
  let serviceThrottled = 0;
  for (const entry of log) {
    if (entry.appId === sandboxClient.clientId && !entry.path.startsWith('/v1.0/$batch')) {
      serviceRequests += 1;
      if (entry.status === 429) serviceThrottled += 1;
    }
    const id = entry.method === 'PATCH' && entry.status < 300 ? account(entry.path) : undefined;
    if (id === undefined) continue;
    const at = Date.parse(entry.time);
    if (entry.appId === portalAppId) changedAt.set(id, at);
    else if (entry.appId === sandboxClient.clientId && changedAt.has(id) && !correctedAt.has(id) && at >= (changedAt.get(id) as number)) correctedAt.set(id, at);
  }
  const latenciesMs = [...correctedAt].map(([id, at]) => at - (changedAt.get(id) as number)).sort((a, b) => a - b);
  return Promise.resolve({ changes: changedAt.size, corrected: correctedAt.size, latenciesMs, serviceRequests, serviceThrottled });
}

const childCommands = {
  addTenants: (sandbox: SandboxHandle, payload: { count: number; users: number }) => addBenchTenants(sandbox, payload),
  listTargets: (sandbox: SandboxHandle, payload: { tenants: BenchTenant[] }) => listTargets(sandbox, payload.tenants),
  makeChanges,
  corrections,
  lastSeq: (sandbox: SandboxHandle) => Promise.resolve(sandbox.control.requests().at(-1)?.seq ?? 0),
  subscriptions: (sandbox: SandboxHandle) => Promise.resolve(sandbox.control.listSubscriptions().length),
};

// ---- in the benchmark's process -----------------------------------------------------------------

async function api(host: LocalHost, pathBelowApi: string, init: { method?: string; json?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${host.url}/${pathBelowApi}`, {
    method: init.method ?? 'GET',
    headers: { 'x-api-key': adminKey, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await answer.text();
  return { status: answer.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Connects each tenant and imports all its users, bound as provisioned (no write to Microsoft 365). */
async function connectAndImport(host: LocalHost, tenants: readonly BenchTenant[]): Promise<{ connectionIds: string[]; imported: number }> {
  const connectionIds: string[] = [];
  // Another app changes thousands of accounts here on purpose: the mass-change guard would rightly hold
  // the corrections for an admin, and this benchmark measures how fast they land, so it is opened wide.
  const settings = { changeGuard: { maxUsers: 1_000_000, maxPercent: 100 } };
  for (const tenant of tenants) connectionIds.push(await connectTenant(host.url, adminKey, tenant, { name: tenant.name, settings }));
  let imported = 0;
  await pool(connectionIds, 4, async (connectionId, i) => {
    const started = await api(host, `connections/${connectionId}/imports`, { method: 'POST', json: { filter: { domain: (tenants[i] as BenchTenant).domain } } });
    if (started.status !== 202) throw new Error(`starting an import answered ${started.status}: ${JSON.stringify(started.body)}`);
    const job = await until(async () => {
      const answer = (await api(host, `imports/${started.body.jobId as string}?limit=1`)).body;
      return answer.status === 'completed' || answer.status === 'failed' ? answer : undefined;
    }, 10 * 60_000, 'the import');
    imported += Number(job.succeeded);
  });
  return { connectionIds, imported };
}

async function runBench(settings: Settings): Promise<void> {
  const sandbox: SandboxProcess = await startSandboxProcess('notifications', 1);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-notifications-'));
  let host: LocalHost | undefined;
  try {
    const tenants = await sandbox.command<BenchTenant[]>('addTenants', { count: settings.tenants, users: Math.ceil(settings.accounts / settings.tenants) });
    // No reconcile timer during the run: every correction must come from a notification.
    const config = loadConfig({
      PORT: '0',
      DATA_DIR: dataDir,
      ADMIN_API_KEY: adminKey,
      AUTHORITY_URL: sandbox.url,
      GRAPH_BASE_URL: sandbox.url,
      LOG_LEVEL: 'error',
      QUEUE_CONCURRENCY: String(settings.concurrency),
    });
    host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'error' }) });
    const running = host;
    const { connectionIds, imported } = await connectAndImport(running, tenants);
    const targetCount = await sandbox.command<number>('listTargets', { tenants });

    await subscriptionsTimer.handler(new InvocationContext({ functionName: 'subscriptions-timer', logHandler: () => undefined }));
    await until(async () => ((await sandbox.command<number>('subscriptions')) === 2 * tenants.length ? true : undefined), 60_000, 'the subscriptions');

    const since = await sandbox.command<number>('lastSeq');
    const cpuBefore = process.cpuUsage();
    const changeStarted = Date.now();
    const made = await sandbox.command<{ made: number; failed: number }>('makeChanges', { rate: settings.rate, seconds: settings.seconds });
    const changeSeconds = (Date.now() - changeStarted) / 1000;
    const result = await until(
      async () => {
        const found = await sandbox.command<Corrections>('corrections', { since });
        return found.corrected >= found.changes ? found : undefined;
      },
      settleMs,
      'every change to be corrected',
    ).catch(() => sandbox.command<Corrections>('corrections', { since }));
    const cpu = process.cpuUsage(cpuBefore);
    const runs = await Promise.all(connectionIds.map(async (id) => (await api(running, `connections/${id}/reconcile`)).body.lastRun));

    const ms = (p: number) => percentile(result.latenciesMs, p);
    const lines = [
      `notifications: ${imported} bound accounts in ${tenants.length} tenants (${targetCount} changeable), throttling on at real time scale, queue concurrency ${settings.concurrency}`,
      `  changes: ${made.made} made (${made.failed} failed) in ${changeSeconds.toFixed(1)} s, ${(made.made / changeSeconds).toFixed(1)} per second, by another app`,
      `  corrected: ${result.corrected} of ${result.changes}; change -> correcting PATCH p50 ${ms(50)} ms, p99 ${ms(99)} ms, max ${ms(100)} ms (target p99 <= 5000 ms)`,
      `  the service's Graph requests meanwhile: ${result.serviceRequests}, 429s ${result.serviceThrottled}; reconcile runs: ${runs.filter((r) => r !== undefined).length}`,
      `  service CPU ${((cpu.user + cpu.system) / 1000 / Math.max(1, result.corrected)).toFixed(2)} ms per corrected change`,
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
  await runBench(parseBenchArgs(args, defaults, 'notifications [--accounts N] [--tenants T] [--rate R] [--seconds S] [--concurrency C]'));
}
