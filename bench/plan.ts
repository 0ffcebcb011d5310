import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { loadConfig } from '../src/app/config';
import { startLocalHost, type LocalHost } from '../src/app/host/local-host';
import { parseBenchArgs } from './support/bench-args';
import { seedBindings, seedContosoUsers, seededAccounts, type Account } from './support/bound-accounts';
import { connectContoso } from './support/connect';
import { sandboxCall, type Json } from './support/sandbox-call';
import { servedAsSandboxChild, startSandboxProcess, type ChildCommands } from './support/sandbox-process';

/**
 * `npm run bench -- plan [--tenant-users N] [--bound N]`: a sandbox tenant of 100,000 users, 10,000
 * of them bound to one connection (written straight into the store), each directory user with a
 * department its account lacks; then `POST /connections/{id}/plan` of the settings change that
 * exports the department, through the admin API (the plan is made, stored and answered whole).
 * The sandbox runs in a child process, so this process's memory is the service's.
 */
interface Settings {
  readonly tenantUsers: number;
  readonly bound: number;
}

const defaults: Settings = { tenantUsers: 100_000, bound: 10_000 };
const adminKey = 'bench-admin-key-0123456789abcdef';
const childCommands: ChildCommands = {
  seed: (sandbox, payload: Json) => seedContosoUsers(sandbox, payload as { count: number }),
  accounts: (sandbox, payload: Json) => seededAccounts(sandbox, payload as { every: number; count: number }),
};

interface ServedRequest {
  readonly method: string;
  readonly path: string;
  readonly write: boolean;
  /** Served inside a `$batch` round trip (logged besides the batch itself). */
  readonly batched?: boolean;
}

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export async function run(args: string[]): Promise<void> {
  if (await servedAsSandboxChild(args, childCommands)) return;
  const settings = parseBenchArgs(args, defaults, 'plan [--tenant-users N] [--bound N]');
  if (settings.bound > settings.tenantUsers) throw new Error('--bound cannot exceed --tenant-users');
  const setupStarted = performance.now();
  const sandbox = await startSandboxProcess('plan', 1);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-plan-'));
  let host: LocalHost | undefined;
  try {
    await sandbox.command('seed', { count: settings.tenantUsers });
    const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, AUTHORITY_URL: sandbox.url, GRAPH_BASE_URL: sandbox.url, LOG_LEVEL: 'error' });
    host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'error' }) });
    const connectionId = await connectContoso(host.url, adminKey);
    const every = Math.max(1, Math.floor(settings.tenantUsers / settings.bound));
    const accounts = await sandbox.command<Account[]>('accounts', { every, count: settings.bound });
    await seedBindings(host, connectionId, accounts, { department: 'Planning' });
    process.stdout.write(`set-up: ${settings.tenantUsers} tenant users, ${accounts.length} bound (every ${every}th) with a department their accounts lack, in ${seconds(performance.now() - setupStarted)}\n`);

    const since = (await sandboxCall(`${sandbox.url}/_sandbox/requests?since=999999999`)).body.lastSeq as number;
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
    const started = performance.now();
    const answer = await fetch(`${host.url}/connections/${connectionId}/plan`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ settings: { exportAttributes: ['department'] } }),
    });
    const plan = (await answer.json()) as Json;
    const ms = performance.now() - started;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (answer.status !== 200) throw new Error(`the plan answered ${answer.status}: ${JSON.stringify(plan)}`);

    const served = (await sandboxCall(`${sandbox.url}/_sandbox/requests?since=${since}`)).body.value as ServedRequest[];
    const roundTrips = served.filter((r) => r.batched !== true);
    const isListPage = (r: ServedRequest): boolean => r.method === 'GET' && /^\/v1\.0\/users(\?|$)/.test(r.path);
    const listPages = roundTrips.filter(isListPage).length;
    const others = roundTrips.filter((r) => !isListPage(r)).map((r) => `${r.method} ${r.path.split('?')[0] as string}`);
    const writes = served.filter((r) => r.write).length;
    const ok = listPages <= 101 && ms <= 10_000 && peakRss <= 300 * 1024 * 1024 && writes === 0;
    process.stdout.write(
      `plan of a settings change over ${accounts.length} bound accounts: ${plan.totals.update as number} updates, ${plan.totals.unchanged as number} unchanged; ` +
        `${roundTrips.length} Graph round trips (${listPages} user list pages; ${others.join(', ')} carrying ${served.length - roundTrips.length} requests), ${writes} writes; ` +
        `${seconds(ms)}; RSS ${megabytes(rssBefore)} before, peak ${megabytes(peakRss)} ` +
        `(targets: <= 101 list pages, <= 10 s, <= 300 MB)${ok ? '' : '  << MISSED'}\n`,
    );
  } finally {
    await host?.stop(1_000);
    sandbox.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
