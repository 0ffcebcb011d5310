import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { call } from '../sandbox/sandbox-test-client';
import { startTestHost, type TestHost } from '../support/test-host';

const { contoso, fabrikam, northwind } = sandboxTenants;

interface ConnectionBody {
  id: string;
  status: string;
  domains: string[];
  tenantId?: string;
  tenantName?: string;
  consentedBy?: { objectId: string; upn: string };
  reauthorization?: { code: string; reason: string; at: string };
  consentUrl?: string;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describe('connections over HTTP, against the in-process sandbox tenant', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ env: { M365_MODE: 'sandbox' } });
  });
  afterAll(async () => {
    await host?.close();
  });

  async function json<T>(response: Response, status: number): Promise<T> {
    const text = await response.text();
    if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  async function createConnection(body: Record<string, unknown>): Promise<ConnectionBody> {
    return json<ConnectionBody>(await host.api('connections', { method: 'POST', json: body }), 201);
  }

  async function getConnection(id: string): Promise<ConnectionBody> {
    return json<ConnectionBody>(await host.api(`connections/${id}`), 200);
  }

  /** Signs in at the sandbox as `upn` through the consent URL and follows the redirect to the callback. */
  async function consent(consentUrl: string, upn: string): Promise<{ status: number; html: string; callbackUrl: string }> {
    const authorize = await call(`${consentUrl}&login_hint=${encodeURIComponent(upn)}&sandbox_auto_consent=1`);
    expect(authorize.status).toBe(302);
    const callbackUrl = String(authorize.headers.location);
    const callback = await fetch(callbackUrl, { redirect: 'manual' });
    expect(callback.headers.get('content-type')).toMatch(/^text\/html/);
    return { status: callback.status, html: await callback.text(), callbackUrl };
  }

  async function sandbox<T>(pathBelow: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    const answer = await call(`${host.sandboxUrl}/_sandbox/${pathBelow}`, init);
    expect(answer.status).toBeLessThan(300);
    return answer.body as T;
  }

  let contosoConnection: ConnectionBody;
  let contosoCallbackUrl: string;

  it('refuses consent by an account that is not a Global Administrator, storing nothing', async () => {
    const created = await createConnection({ name: 'Helpdesk attempt' });
    const outcome = await consent(created.consentUrl!, contoso.helpdeskUpn);
    expect(outcome.status).toBe(400);
    expect(outcome.html).toContain('helpdesk@contoso.com is not a Global Administrator of Contoso');
    const after = await getConnection(created.id);
    expect(after).toMatchObject({ status: 'pending_consent', domains: [] });
    expect(after.tenantId).toBeUndefined();
    expect((await host.api(`connections/${created.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('answers an error from the authority, or a bare callback, with an escaped page and no JSON', async () => {
    const created = await createConnection({ name: 'Declined' });
    const state = new URL(created.consentUrl!).searchParams.get('state')!;
    const query = new URLSearchParams({ state, error: 'access_denied', error_description: 'AADSTS65004: <script>alert(1)</script> declined.\r\nTrace ID: x' });
    const declined = await fetch(`${host.url}/oauth/callback?${query.toString()}`);
    expect(declined.status).toBe(400);
    expect(declined.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await declined.text();
    expect(html).toContain('access_denied');
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('Trace ID');

    const bare = await fetch(`${host.url}/oauth/callback`);
    expect(bare.status).toBe(400);
    expect(bare.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await bare.text()).toContain('carries no state');
    expect((await getConnection(created.id)).status).toBe('pending_consent');
  });

  it('refuses the GoDaddy-operated tenant', async () => {
    const created = await createConnection({ name: 'Northwind' });
    const outcome = await consent(created.consentUrl!, northwind.adminUpn);
    expect(outcome.status).toBe(400);
    expect(outcome.html).toContain('operated by GoDaddy');
    expect((await getConnection(created.id)).status).toBe('pending_consent');
  });

  it('runs the full consent flow: the connection ends active with contoso.com, and the page says so', async () => {
    const created = await createConnection({ name: 'Contoso <main>' });
    expect(created).toMatchObject({ status: 'pending_consent', consentUrl: expect.stringContaining(`${host.sandboxUrl}/organizations/oauth2/v2.0/authorize?`) });
    const outcome = await consent(created.consentUrl!, contoso.adminUpn);
    expect(outcome.status).toBe(200);
    expect(outcome.html).toContain('Contoso &lt;main&gt;');
    expect(outcome.html).toContain('<code>contoso.com</code>');
    expect(outcome.html).toContain(contoso.id);
    contosoCallbackUrl = outcome.callbackUrl;

    contosoConnection = await getConnection(created.id);
    expect(contosoConnection).toMatchObject({ status: 'active', domains: ['contoso.com'], tenantId: contoso.id, tenantName: 'Contoso', consentedBy: { upn: contoso.adminUpn } });
    expect(Object.keys(contosoConnection).sort()).toEqual(['consentedAt', 'consentedBy', 'createdAt', 'domains', 'id', 'name', 'settings', 'status', 'tenantId', 'tenantName', 'updatedAt']);
  });

  it('refuses a replayed callback URL', async () => {
    const replay = await fetch(contosoCallbackUrl, { redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already been used');
    expect((await getConnection(contosoConnection.id)).status).toBe('active');
  });

  it('refuses a second connection claiming contoso.com, or the contoso tenant again', async () => {
    const conflict = await host.api('connections', { method: 'POST', json: { name: 'Again', domains: ['contoso.com'] } });
    expect(conflict.status).toBe(409);
    expect(await conflict.text()).toContain('contoso.com is already claimed');

    const second = await createConnection({ name: 'Contoso twice' });
    const outcome = await consent(second.consentUrl!, contoso.adminUpn);
    expect(outcome.status).toBe(400);
    expect(outcome.html).toContain('already connected through another connection');
    expect((await getConnection(second.id)).status).toBe('pending_consent');
  });

  it('connects a second tenant alongside, and refuses its re-consent from another tenant', async () => {
    const created = await createConnection({ name: 'Fabrikam', domains: ['fabrikam.com'] });
    expect((await consent(created.consentUrl!, fabrikam.adminUpn)).status).toBe(200);
    const renewal = await json<{ consentUrl: string }>(await host.api(`connections/${created.id}/consent`, { method: 'POST' }), 200);
    const outcome = await consent(renewal.consentUrl, contoso.adminUpn);
    expect(outcome.status).toBe(400);
    expect(outcome.html).toContain('belongs to tenant Fabrikam');
    expect(await getConnection(created.id)).toMatchObject({ status: 'active', tenantId: fabrikam.id, domains: ['fabrikam.com'] });
  });

  it('edits domains of an active connection only with domains verified in its tenant', async () => {
    const id = contosoConnection.id;
    const unverified = await host.api(`connections/${id}`, { method: 'PATCH', json: { domains: ['contoso.com', 'contoso.org'] } });
    expect(unverified.status).toBe(422);
    const updated = await json<ConnectionBody>(await host.api(`connections/${id}`, { method: 'PATCH', json: { domains: ['contoso.com', 'contoso.onmicrosoft.com'], settings: { conflictPolicy: 'link' } } }), 200);
    expect(updated).toMatchObject({ domains: ['contoso.com', 'contoso.onmicrosoft.com'], settings: { conflictPolicy: 'link' } });
    expect((await host.api('connections', { method: 'POST', json: { name: 'x', domains: ['contoso.onmicrosoft.com'] } })).status).toBe(409);
  });

  it('refuses to delete an active connection', async () => {
    expect((await host.api(`connections/${contosoConnection.id}`, { method: 'DELETE' })).status).toBe(409);
  });

  interface ActivityBody { state: string; lastSuccessAt?: string; lastFailureAt?: string; lastFailure?: { code: string; message: string } }
  interface HealthBody { status: string; connections: { total: number; reauthorizationRequired: number; failing: number; items: { id: string; status: string; reauthorization?: { code: string }; graph: ActivityBody; tokenRefresh: ActivityBody }[] } }

  /** Health's entry for one connection, once the activity records being written have landed. */
  async function healthOf(id: string): Promise<{ health: HealthBody; item: HealthBody['connections']['items'][number] }> {
    await host.services.m365.activity.flush();
    const health = await json<HealthBody>(await host.api('health'), 200);
    const item = health.connections.items.find((candidate) => candidate.id === id);
    if (item === undefined) throw new Error(`health does not list connection ${id}`);
    return { health, item };
  }

  it("shows each connection's last successful Graph call and token refresh in health, and a failing call as failing", async () => {
    const id = contosoConnection.id;
    const graph = host.services.m365.graph.forConnection(id);
    await graph.get('/organization');
    const working = await healthOf(id);
    expect(working.item).toMatchObject({ status: 'active', graph: { state: 'ok', lastSuccessAt: expect.any(String) }, tokenRefresh: { state: 'ok', lastSuccessAt: expect.any(String) } });
    // Kept in the store, so every instance of the app reports the same.
    expect(await host.services.store.get('state', 'connection-activity', `${id}:graph`)).toMatchObject({ data: { connectionId: id, kind: 'graph', lastSuccessAt: working.item.graph.lastSuccessAt } });

    await sandbox('faults', { method: 'POST', body: { rates: { '503': 1 } } });
    try {
      await expect(graph.get('/organization')).rejects.toMatchObject({ code: 'transient' });
    } finally {
      await sandbox('faults', { method: 'POST', body: { rates: { '503': 0 } } });
    }
    const failing = await healthOf(id);
    expect(failing.health.status).toBe('ok');
    expect(failing.health.connections.failing).toBe(1);
    expect(failing.item.graph).toMatchObject({ state: 'failing', lastSuccessAt: working.item.graph.lastSuccessAt, lastFailure: { code: 'http_503' } });
    expect(failing.item.tokenRefresh.state).toBe('ok');

    await graph.get('/organization');
    const recovered = await healthOf(id);
    expect(recovered.item.graph.state).toBe('ok');
    expect(recovered.health.connections.failing).toBe(0);
    // Without a key, nothing of this shows.
    expect(await (await fetch(`${host.url}/health`)).json()).toEqual({ status: 'ok' });
  });

  it('turns the connection reauthorization_required when its grant is revoked, shows it in health, and re-consent restores it', async () => {
    const id = contosoConnection.id;
    const graph = host.services.m365.graph.forConnection(id);
    expect(await graph.get<{ value: { id: string }[] }>('/organization')).toMatchObject({ value: [{ id: contoso.id }] });
    const revokedAt = await sandbox<{ lastSeq: number }>('requests');
    await sandbox('tenants/' + contoso.id + '/revoke', { method: 'POST', body: {} });
    // The next piece of work: Graph refuses the still-unexpired token at once, the forced refresh gets invalid_grant.
    await expect(graph.get('/organization')).rejects.toMatchObject({ code: 'reauthorization_required' });
    const refused = await sandbox<{ value: { path: string; status: number }[]; lastSeq: number }>(`requests?since=${revokedAt.lastSeq}`);
    expect(refused.value).toEqual([expect.objectContaining({ path: '/v1.0/organization', status: 401 })]);

    const waiting = await getConnection(id);
    expect(waiting).toMatchObject({ status: 'reauthorization_required', reauthorization: { code: 'AADSTS50173', reason: expect.stringContaining('revoked') } });
    const { health, item } = await healthOf(id);
    expect(health.status).toBe('ok');
    expect(health.connections).toMatchObject({ reauthorizationRequired: 1, failing: 1 });
    expect(item).toMatchObject({ status: 'reauthorization_required', reauthorization: { code: 'AADSTS50173' }, tokenRefresh: { state: 'failing', lastFailure: { code: 'AADSTS50173' } } });
    const errors = host.logText().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.level === 'error');
    expect(errors).toContainEqual(expect.objectContaining({ connectionId: id, code: 'AADSTS50173', msg: expect.stringContaining('re-authorization') }));

    // Work for it waits: the Graph client reports the state instead of calling Graph.
    await expect(graph.get('/organization')).rejects.toMatchObject({ code: 'reauthorization_required' });
    expect((await sandbox<{ value: unknown[] }>(`requests?since=${refused.lastSeq}`)).value).toEqual([]);

    const renewal = await json<{ consentUrl: string }>(await host.api(`connections/${id}/consent`, { method: 'POST' }), 200);
    expect((await consent(renewal.consentUrl, contoso.adminUpn)).status).toBe(200);
    const restored = await getConnection(id);
    expect(restored.status).toBe('active');
    expect(restored.reauthorization).toBeUndefined();
    expect(await graph.get<{ value: { id: string }[] }>('/organization')).toMatchObject({ value: [{ id: contoso.id }] });
    const after = await healthOf(id);
    expect(after.health.connections.reauthorizationRequired).toBe(0);
    expect(after.item).toMatchObject({ status: 'active', tokenRefresh: { state: 'ok' }, graph: { state: 'ok' } });
  });

  it('de-authorizes without a single Graph write, reporting the bindings it removed', async () => {
    const id = contosoConnection.id;
    const { store } = host.services;
    for (let i = 0; i < 5; i += 1) {
      await store.create('bindings', id, `user-${i}`, { kind: 'user', connectionId: id, userId: `user-${i}`, state: 'provisioned', via: { direct: true, groups: [] }, passwordPending: false });
    }
    await store.create('bindings', id, 'group:g-1', { kind: 'group', connectionId: id, groupId: 'g-1' });
    const before = await sandbox<{ lastSeq: number }>('requests');

    const answer = await json<{ status: string; unboundUsers: number }>(await host.api(`connections/${id}/authorization`, { method: 'DELETE' }), 200);
    expect(answer).toEqual({ status: 'deauthorized', unboundUsers: 5 });
    const served = await sandbox<{ value: { write: boolean; method: string; path: string }[] }>(`requests?since=${before.lastSeq}`);
    expect(served.value).toEqual([]);
    expect(await store.count('bindings', { pk: id })).toBe(0);
    expect((await getConnection(id)).status).toBe('deauthorized');
    await expect(host.services.m365.graph.forConnection(id).get('/me')).rejects.toMatchObject({ code: 'not_connected' });

    // The tenant and its domains are free again; the de-authorized connection can now be deleted.
    expect((await host.api(`connections/${id}`, { method: 'DELETE' })).status).toBe(204);
    const fresh = await createConnection({ name: 'Contoso again' });
    expect((await consent(fresh.consentUrl!, contoso.adminUpn)).status).toBe(200);
    expect(await getConnection(fresh.id)).toMatchObject({ status: 'active', domains: ['contoso.com'] });
  });

  it('never lets a refresh token the sandbox issued reach the data directory, the logs or an API answer', async () => {
    const tokens: string[] = [];
    for (const tenant of [contoso, fabrikam]) {
      const grants = await sandbox<{ refreshTokens: { token: string }[] }[]>(`tenants/${tenant.id}/grants`);
      tokens.push(...grants.flatMap((g) => g.refreshTokens.map((t) => t.token)));
    }
    expect(tokens.length).toBeGreaterThanOrEqual(4);

    // Every file, the sandbox's own sandbox.db* included: it keeps only hashes of the tokens it issued.
    const files = filesUnder(host.dataDir);
    expect(files.some((file) => file.endsWith('m365-bridge.db'))).toBe(true);
    expect(files.some((file) => path.basename(file) === 'sandbox.db')).toBe(true);
    expect(files.some((file) => file.includes(`${path.sep}secrets${path.sep}`))).toBe(true);
    const listing = await (await host.api('connections?limit=50')).text();
    for (const file of files) {
      const content = readFileSync(file).toString('latin1');
      for (const token of tokens) expect(content.includes(token)).toBe(false);
    }
    for (const token of tokens) {
      expect(host.logText().includes(token)).toBe(false);
      expect(listing.includes(token)).toBe(false);
    }
  });
});
