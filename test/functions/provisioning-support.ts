import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { call, type HttpResult } from '../sandbox/sandbox-test-client';
import type { TestHost } from '../support/test-host';
import { eventually } from '../support/eventually';
import { reconcileLeaseName } from '../../src/domain/reconcile/reconcile-connection';
import { leaseHolder } from '../../src/domain/reconcile/store-lease';

export { eventually };

export const contoso = sandboxTenants.contoso;

/** What these helpers need of a host: its admin API (an in-process test host, or a host process reached over HTTP). */
export type AdminApi = Pick<TestHost, 'api'>;

// Decoded JSON bodies are read field by field in tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export async function json(response: Response): Promise<Json> {
  const text = await response.text();
  return text === '' ? undefined : (JSON.parse(text) as Json);
}

/**
 * Connects a sandbox tenant the way an admin does: create the connection, open the consent URL as
 * the Global Administrator (auto-consent), follow the redirect to the callback. Returns the connection.
 */
export async function connectTenant(host: AdminApi, options: { name?: string; adminUpn?: string; domains?: string[]; settings?: Record<string, unknown> } = {}): Promise<Json> {
  const created = await host.api('connections', { method: 'POST', json: { name: options.name ?? 'Contoso', ...(options.domains === undefined ? {} : { domains: options.domains }), ...(options.settings === undefined ? {} : { settings: options.settings }) } });
  if (created.status !== 201) throw new Error(`creating the connection answered ${created.status}: ${await created.text()}`);
  const connection = await json(created);
  const consent = new URL(connection.consentUrl as string);
  consent.searchParams.set('login_hint', options.adminUpn ?? contoso.adminUpn);
  consent.searchParams.set('sandbox_auto_consent', '1');
  const authorized = await call(consent.toString());
  const location = authorized.headers.location;
  if (authorized.status !== 302 || typeof location !== 'string') throw new Error(`the consent page answered ${authorized.status}: ${authorized.text}`);
  const callback = await fetch(location);
  if (callback.status !== 200) throw new Error(`the callback answered ${callback.status}: ${await callback.text()}`);
  const active = await json(await host.api(`connections/${connection.id as string}`));
  if (active.status !== 'active') throw new Error(`the connection is ${active.status as string} after consent`);
  return active;
}

/** The sandbox's control API and Graph, as a test reaches them (the admin token comes from the control API). */
export class SandboxClient {
  constructor(readonly url: string) {}

  control(path: string, init: { method?: string; body?: unknown } = {}): Promise<HttpResult> {
    return call(`${this.url}/_sandbox/${path}`, init);
  }

  async graph(path: string, init: { method?: string; body?: unknown } = {}, tenantId: string = contoso.id): Promise<HttpResult> {
    const token = await this.control(`tenants/${tenantId}/tokens`, { method: 'POST', body: { upn: contoso.adminUpn } });
    return call(`${this.url}/v1.0${path}`, { ...init, headers: { authorization: `Bearer ${token.body.access_token as string}` } });
  }

  async user(upn: string): Promise<Json> {
    const found = await this.graph(`/users?$filter=${encodeURIComponent(`userPrincipalName eq '${upn.replace(/'/g, "''")}'`)}&$select=id,userPrincipalName,givenName,surname,displayName,mailNickname,accountEnabled,jobTitle,department,usageLocation`);
    return (found.body.value as Json[])[0];
  }

  async lastRequestSeq(): Promise<number> {
    return (await this.control('requests?since=999999999')).body.lastSeq as number;
  }

  /** The Graph requests served after `since` (a sequence number). */
  async requestsSince(since: number): Promise<{ method: string; path: string; status: number; write: boolean }[]> {
    return (await this.control(`requests?since=${since}`)).body.value as { method: string; path: string; status: number; write: boolean }[];
  }

  async setFaults(faults: Record<string, unknown>): Promise<void> {
    const answer = await this.control('faults', { method: 'POST', body: faults });
    if (answer.status !== 200) throw new Error(`setting faults answered ${answer.status}: ${answer.text}`);
  }
}

export async function createUser(host: AdminApi, fields: Record<string, unknown>): Promise<Json> {
  const created = await host.api('users', { method: 'POST', json: fields });
  if (created.status !== 201) throw new Error(`creating a user answered ${created.status}: ${await created.text()}`);
  return json(created);
}

export async function bindingOf(host: AdminApi, connectionId: string, userId: string): Promise<Json> {
  return json(await host.api(`connections/${connectionId}/users/${userId}`));
}

/** Waits until the binding reaches `state` with no work outstanding, and returns it. */
export function bindingIn(host: AdminApi, connectionId: string, userId: string, state: string, timeoutMs = 10_000): Promise<Json> {
  return eventually(async () => {
    const binding = await bindingOf(host, connectionId, userId);
    return binding?.state === state ? binding : undefined;
  }, timeoutMs, `binding of ${userId} to be ${state}`);
}

export async function events(host: TestHost, query: Record<string, string>): Promise<Json[]> {
  const all: Json[] = [];
  let cursor: string | undefined;
  do {
    const params = new URLSearchParams({ ...query, limit: '500', ...(cursor === undefined ? {} : { cursor }) });
    const page = await json(await host.api(`events?${params.toString()}`));
    all.push(...(page.items as Json[]));
    cursor = page.nextCursor as string | undefined;
  } while (cursor !== undefined);
  return all;
}

/** Waits until no run holds the connection's reconcile lease (a finished run keeps it a moment). */
export async function reconcileLeaseFree(host: TestHost, connectionId: string): Promise<void> {
  await eventually(async () => ((await leaseHolder(host.services, reconcileLeaseName(connectionId))) === undefined ? true : undefined), 10_000, 'the reconcile lease to be free');
}

/** Starts an on-demand reconcile run of the connection and waits until it has finished; returns its report. */
export async function reconcileNow(host: TestHost, connectionId: string): Promise<Json> {
  // A run keeps its lease a moment after it finishes (requests arriving together collapse into it).
  const started = await eventually(async () => {
    const answer = await host.api(`connections/${connectionId}/reconcile`, { method: 'POST' });
    return answer.status === 409 ? undefined : answer;
  }, 3_000, 'the previous run to release its lease');
  expect(started.status).toBe(202);
  // Queued, not run inside the request: the queue function runs it.
  const { runId, status } = await json(started);
  expect(status).toBe('queued');
  return eventually(async () => {
    const current = await json(await host.api(`connections/${connectionId}/reconcile`));
    return current.lastRun?.runId === runId ? current.lastRun : undefined;
  }, 10_000, 'the reconcile run to finish');
}

/** Starts an import job over the API; returns its id. */
export async function startImport(host: TestHost, connectionId: string, body: Record<string, unknown>): Promise<string> {
  const answer = await host.api(`connections/${connectionId}/imports`, { method: 'POST', json: body });
  if (answer.status !== 202) throw new Error(`starting the import answered ${answer.status}: ${await answer.text()}`);
  const started = await json(answer);
  expect(answer.headers.get('location')).toBe(`/api/imports/${started.jobId as string}`);
  return started.jobId as string;
}

/** Waits for the import job to finish, and returns it with every result. */
export async function finishedJob(host: TestHost, jobId: string, timeoutMs = 15_000): Promise<Json> {
  const job = await eventually(async () => {
    const current = await json(await host.api(`imports/${jobId}`));
    return current.status === 'completed' || current.status === 'failed' ? current : undefined;
  }, timeoutMs, `import job ${jobId} to finish`);
  const results: Json[] = [...(job.results as Json[])];
  let cursor = job.nextCursor as string | undefined;
  while (cursor !== undefined) {
    const page = await json(await host.api(`imports/${jobId}?limit=500&cursor=${encodeURIComponent(cursor)}`));
    results.push(...(page.results as Json[]));
    cursor = page.nextCursor as string | undefined;
  }
  return { ...job, results };
}
