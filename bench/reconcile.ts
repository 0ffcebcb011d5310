import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/app/config';
import { startLocalHost, type LocalHost } from '../src/app/host/local-host';
import { reconcileFor } from '../src/app/reconcile-services';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { sandboxCall, type Json } from './support/sandbox-call';
import { sandboxTenants } from '../src/adapters/sandbox/seed';
import { mapConcurrently } from '../src/domain/reconcile/map-concurrently';
import { minimumLeaseMs, startReconcile, type RunReport } from '../src/domain/reconcile/reconcile-connection';
import { parseBenchArgs } from './support/bench-args';
import { seedBindings, seedContosoUsers, seededAccounts, type Account } from './support/bound-accounts';
import { connectContoso } from './support/connect';
import { servedAsSandboxChild, startSandboxProcess, type ChildCommands } from './support/sandbox-process';

/**
 * `npm run bench -- reconcile [--tenant-users N] [--bound N] [--drift-percent P]`: a sandbox tenant
 * of 100,000 users, 10,000 of them bound to one connection (written straight into the store: this
 * measures reconciling, not binding), then three runs: an incremental run with nothing changed, one
 * after 1% of the bound accounts drifted (until the worker has corrected them), and a forced full
 * resync. The sandbox runs in a child process, so this process's memory is the service's.
 */
interface Settings {
  readonly tenantUsers: number;
  readonly bound: number;
  readonly driftPercent: number;
}

const defaults: Settings = { tenantUsers: 100_000, bound: 10_000, driftPercent: 1 };
const adminKey = 'bench-admin-key-0123456789abcdef';
const contoso = sandboxTenants.contoso;

function parseArgs(args: readonly string[]): Settings {
  const settings = parseBenchArgs(args, defaults, 'reconcile [--tenant-users N] [--bound N] [--drift-percent P]', (_key, value) => value > 0);
  if (settings.bound > settings.tenantUsers) throw new Error('--bound cannot exceed --tenant-users');
  return settings;
}


// ---- the sandbox, in a child process -----------------------------------------------------------

const childCommands: ChildCommands = {
  seed: (sandbox, payload: Json) => seedContosoUsers(sandbox, payload as { count: number }),
  accounts: (sandbox, payload: Json) => seededAccounts(sandbox, payload as { every: number; count: number }),
  drift: async (sandbox, payload: Json) => {
    const access = sandbox.control.issueToken(contoso.id, contoso.adminUpn).access_token;
    await mapConcurrently(payload.ids as string[], 16, async (id) => {
      const patched = await sandboxCall(`${sandbox.url}/v1.0/users/${id}`, { method: 'PATCH', body: { displayName: `Drifted ${id.slice(0, 8)}` }, token: access });
      if (patched.status !== 204) throw new Error(`drifting ${id} answered ${patched.status}`);
    });
  },
};

// ---- measuring -----------------------------------------------------------------------------------

interface ServedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly write: boolean;
}

async function lastRequestSeq(url: string): Promise<number> {
  return (await sandboxCall(`${url}/_sandbox/requests?since=999999999`)).body.lastSeq as number;
}

async function requestsSince(url: string, since: number): Promise<ServedRequest[]> {
  return (await sandboxCall(`${url}/_sandbox/requests?since=${since}`)).body.value as ServedRequest[];
}

/** Runs one reconcile of the connection, sampling this process's RSS while it runs. */
async function measuredRun(host: LocalHost, connectionId: string, forceFull: boolean): Promise<{ report: RunReport; ms: number; peakRssBytes: number }> {
  // A previous run keeps its lease for a moment after it ends.
  await new Promise((resolve) => setTimeout(resolve, minimumLeaseMs + 50));
  let peakRssBytes = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss)), 10);
  const started = performance.now();
  const run = await startReconcile(reconcileFor(host.services), connectionId, { trigger: 'on_demand', forceFull });
  if (!run.ok) throw new Error(`reconcile refused: ${run.error.message}`);
  const report = await run.value.finished;
  const ms = performance.now() - started;
  clearInterval(sampler);
  peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
  if (report.outcome !== 'completed') throw new Error(`reconcile ended ${report.outcome}: ${report.error?.message ?? ''}`);
  return { report, ms, peakRssBytes };
}

async function countEvents(host: LocalHost, connectionId: string): Promise<number> {
  return host.services.store.count('events', { pk: connectionId, where: [{ field: 'type', op: 'eq', value: 'user_update_provision' }] });
}

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const seconds = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const isDelta = (r: ServedRequest): boolean => r.path.startsWith('/v1.0/users/delta');

export async function run(args: string[]): Promise<void> {
  if (await servedAsSandboxChild(args, childCommands)) return;
  const settings = parseArgs(args);
  const setupStarted = performance.now();
  const sandbox = await startSandboxProcess('reconcile', 1);
  await sandbox.command('seed', { count: settings.tenantUsers });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-reconcile-'));
  let host: LocalHost | undefined;
  try {
    const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, AUTHORITY_URL: sandbox.url, GRAPH_BASE_URL: sandbox.url, LOG_LEVEL: 'error' });
    host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'error' }) });
    const connectionId = await connectContoso(host.url, adminKey);
    const every = Math.max(1, Math.floor(settings.tenantUsers / settings.bound));
    const accounts = await sandbox.command<Account[]>('accounts', { every, count: settings.bound });
    await seedBindings(host, connectionId, accounts);
    process.stdout.write(`set-up: ${settings.tenantUsers} tenant users, ${accounts.length} bound (every ${every}th), in ${seconds(performance.now() - setupStarted)}\n`);

    // The connection's first run reads every account to get its first delta token.
    const first = await measuredRun(host, connectionId, false);
    process.stdout.write(`first run (full round for a token): ${first.report.users?.pages} delta pages, ${seconds(first.ms)}, ${first.report.users?.nudged} nudges\n`);

    let seq = await lastRequestSeq(sandbox.url);
    const quiet = await measuredRun(host, connectionId, false);
    const quietRequests = await requestsSince(sandbox.url, seq);
    process.stdout.write(
      `no-change incremental run: ${quietRequests.length} Graph requests, ${seconds(quiet.ms)}, ${quiet.report.users?.nudged} nudges (target: <= 3 requests, <= 1 s)` +
        `${quietRequests.length <= 3 && quiet.ms <= 1000 ? '' : '  << MISSED'}\n`,
    );

    const drifting = accounts.filter((_, i) => i % Math.round(100 / settings.driftPercent) === 0).map((a) => a.id);
    await sandbox.command('drift', { ids: drifting });
    const eventsBefore = await countEvents(host, connectionId);
    seq = await lastRequestSeq(sandbox.url);
    const driftStarted = performance.now();
    const drift = await measuredRun(host, connectionId, false);
    const deadline = performance.now() + 120_000;
    while ((await countEvents(host, connectionId)) - eventsBefore < drifting.length) {
      if (performance.now() > deadline) throw new Error('the drifted accounts were not corrected within 2 minutes');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const correctedMs = performance.now() - driftStarted;
    // Anything more the worker would write shows up in this pause.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const driftRequests = await requestsSince(sandbox.url, seq);
    const writes = driftRequests.filter((r) => r.write);
    process.stdout.write(
      `${settings.driftPercent}% drift (${drifting.length} accounts): reconcile ${driftRequests.filter(isDelta).length} Graph requests in ${seconds(drift.ms)}, ${drift.report.users?.drifted} drifted, ${drift.report.users?.nudged} nudges; ` +
        `worker ${driftRequests.filter((r) => !isDelta(r) && !r.write).length} reads and ${writes.length} corrective writes (${writes.filter((r) => r.method === 'PATCH').length} PATCH); ` +
        `all corrected ${seconds(correctedMs)} after the run started${writes.length === drifting.length ? '' : `  << expected exactly ${drifting.length} writes`}\n`,
    );

    seq = await lastRequestSeq(sandbox.url);
    const rssBefore = process.memoryUsage().rss;
    const full = await measuredRun(host, connectionId, true);
    const fullRequests = await requestsSince(sandbox.url, seq);
    process.stdout.write(
      `forced full resync: ${full.report.users?.pages} delta pages (${fullRequests.length} Graph requests), ${full.report.users?.reported} accounts compared against ${full.report.users?.bound} bound, ${full.report.users?.nudged} nudges, ${seconds(full.ms)}; ` +
        `RSS ${megabytes(rssBefore)} before, peak ${megabytes(full.peakRssBytes)} (target: <= 300 MB)${full.peakRssBytes <= 300 * 1024 * 1024 ? '' : '  << MISSED'}\n`,
    );
  } finally {
    await host?.stop(1_000);
    sandbox.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
