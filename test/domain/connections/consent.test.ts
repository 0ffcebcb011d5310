import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { connectionSettingsSchema } from '../../../src/domain/connections/connection';
import { claimHolder } from '../../../src/domain/connections/connection-claims';
import { completeConsent, startConsent, sweepAbandonedConsents, type ConsentRefusalCode } from '../../../src/domain/connections/consent';
import { createConnection, getConnection } from '../../../src/domain/connections/manage-connections';
import { deauthorizeConnection } from '../../../src/domain/connections/deauthorize-connection';
import { expectErr, expectOk, people, startConnectionsHarness, stateOf, type CodeOutcome, type ConnectionsHarness, type Person } from './connections-harness';

const settings = connectionSettingsSchema.parse({});

describe('consent', () => {
  let h: ConnectionsHarness;
  let codes = 0;

  beforeEach(() => {
    h = startConnectionsHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function create(domains: string[] = [], name = 'Connection'): Promise<string> {
    return expectOk(await createConnection(h.deps, { name, domains, settings })).id;
  }

  /** Opens a fresh consent URL for the connection and comes back signed in as `who`; its PKCE verifier is gone after. */
  async function consent(connectionId: string, who: Person | CodeOutcome) {
    const link = expectOk(await startConsent(h.deps, connectionId));
    const state = stateOf(link.consentUrl);
    const { n: nonce } = JSON.parse(Buffer.from(state.split('.')[0]!, 'base64url').toString('utf8')) as { n: string };
    expect(h.deps.secrets.values.has(`oauth-pkce-${nonce}`)).toBe(true);
    codes += 1;
    const code = `code-${codes}`;
    h.deps.identity.codes.set(code, 'tenant' in who ? { tenantId: who.tenant.tenantId, objectId: who.objectId, upn: who.upn } : who);
    const result = await completeConsent(h.deps, { code, state });
    expect(h.deps.secrets.values.has(`oauth-pkce-${nonce}`)).toBe(false);
    return result;
  }

  async function record(id: string): Promise<ConnectionRecord> {
    const doc = await h.store.get<ConnectionRecord>('connections', id, id);
    if (doc === undefined) throw new Error(`no connection ${id}`);
    return doc.data;
  }

  /** A refused consent leaves the connection, the claims and the token caches as they were. */
  async function expectRefused(connectionId: string, who: Person | CodeOutcome, code: ConsentRefusalCode, message?: RegExp): Promise<void> {
    const before = await record(connectionId);
    const cachesBefore = h.deps.identity.caches.get(connectionId);
    const claimsBefore = await claims();
    const refusal = expectErr(await consent(connectionId, who));
    expect(refusal.code).toBe(code);
    if (message !== undefined) expect(refusal.message).toMatch(message);
    expect(await record(connectionId)).toEqual(before);
    expect(h.deps.identity.caches.get(connectionId)).toEqual(cachesBefore);
    expect(await claims()).toEqual(claimsBefore);
  }

  async function claims(): Promise<unknown[]> {
    return (await h.store.query('uniques', { limit: 100 })).items.filter((doc) => /^(tenant|domain):/.test(doc.id)).map((doc) => [doc.id, doc.data]);
  }

  it('activates the connection with the tenant, its claimable domains, who consented and when', async () => {
    const id = await create([], 'Contoso');
    const success = expectOk(await consent(id, people.contosoAdmin));
    expect(success).toEqual({ connectionId: id, connectionName: 'Contoso', tenantId: 'contoso-tenant-id', tenantName: 'Contoso', domains: ['contoso.com'], consentedBy: { objectId: 'contoso-admin', upn: 'admin@contoso.com' } });
    expect(await record(id)).toMatchObject({
      status: 'active',
      tenantId: 'contoso-tenant-id',
      tenantName: 'Contoso',
      domains: ['contoso.com'],
      consentedBy: { objectId: 'contoso-admin', upn: 'admin@contoso.com' },
      consentedAt: h.deps.clock.now().toISOString(),
      homeAccountId: 'contoso-admin.contoso-tenant-id',
    });
    expect(h.deps.identity.caches.get(id)).toEqual(['contoso-admin.contoso-tenant-id']);
    expect(await claimHolder(h.deps, 'tenant', 'contoso-tenant-id')).toBe(id);
    expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBe(id);
    // The verifier of the link used (not the one issued at creation) went to the redemption.
    expect(h.deps.identity.redeemed[0]?.codeVerifier).toBe('verifier-2');
  });

  it('claims exactly the requested domains', async () => {
    const id = await create(['contoso.com', 'contoso.onmicrosoft.com']);
    expect(expectOk(await consent(id, people.contosoAdmin)).domains).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);
    expect(await claimHolder(h.deps, 'domain', 'contoso.onmicrosoft.com')).toBe(id);
  });

  describe('refuses, storing nothing,', () => {
    it('a missing, forged, expired or replayed state', async () => {
      const id = await create();
      expect(expectErr(await completeConsent(h.deps, { code: 'x' })).code).toBe('state_invalid');
      expect(expectErr(await completeConsent(h.deps, { code: 'x', state: 'forged.state' })).code).toBe('state_invalid');

      const expired = expectOk(await startConsent(h.deps, id));
      h.deps.clock.advance(10 * 60 * 1000 + 1);
      expect(expectErr(await completeConsent(h.deps, { code: 'x', state: stateOf(expired.consentUrl) })).code).toBe('state_expired');

      const link = expectOk(await startConsent(h.deps, id));
      h.deps.identity.codes.set('replayed', { tenantId: 'contoso-tenant-id', objectId: 'contoso-helpdesk', upn: 'helpdesk@contoso.com' });
      await completeConsent(h.deps, { code: 'replayed', state: stateOf(link.consentUrl) });
      const replay = expectErr(await completeConsent(h.deps, { code: 'replayed', state: stateOf(link.consentUrl) }));
      expect(replay.code).toBe('state_used');
      expect(h.deps.identity.redeemed).toHaveLength(1);
      expect((await record(id)).status).toBe('pending_consent');
    });

    it('an error from the authority (access_denied), quoting its first line only', async () => {
      const id = await create();
      const before = await record(id);
      const link = expectOk(await startConsent(h.deps, id));
      const refusal = expectErr(await completeConsent(h.deps, { state: stateOf(link.consentUrl), error: 'access_denied', errorDescription: 'AADSTS65004: User declined to consent to access the app.\r\nTrace ID: 1\r\nCorrelation ID: 2' }));
      expect(refusal).toEqual({ code: 'authority_error', message: 'Microsoft did not grant consent: access_denied (AADSTS65004: User declined to consent to access the app.).' });
      expect(h.deps.identity.redeemed).toHaveLength(0);
      expect(await record(id)).toEqual(before);
      expect(h.deps.identity.caches.has(id)).toBe(false);
    });

    it('a code the authority will not redeem', async () => {
      await expectRefused(await create(), { kind: 'refused', error: 'invalid_grant', code: 'AADSTS54005', message: 'AADSTS54005: OAuth2 Authorization code was already redeemed.' }, 'code_rejected', /already redeemed/);
      await expectRefused(await create(), { kind: 'unavailable', error: 'network_error', message: 'ECONNREFUSED' }, 'authority_unavailable');
    });

    it('an account without the Global Administrator role', async () => {
      await expectRefused(await create(), people.contosoHelpdesk, 'not_global_admin', /helpdesk@contoso\.com is not a Global Administrator of Contoso/);
    });

    it('a GoDaddy-operated tenant', async () => {
      await expectRefused(await create(), people.northwindAdmin, 'godaddy_tenant', /operated by GoDaddy/);
    });

    it('a tenant already connected through another connection', async () => {
      const first = await create();
      expectOk(await consent(first, people.contosoAdmin));
      await expectRefused(await create(), people.contosoSecondAdmin, 'tenant_already_connected', new RegExp(first));
    });

    it('a requested domain that is not verified in the tenant', async () => {
      await expectRefused(await create(['contoso.org']), people.contosoAdmin, 'domain_not_verified', /contoso\.org/);
      await expectRefused(await create(['fabrikam.com']), people.contosoAdmin, 'domain_not_verified', /fabrikam\.com is not a verified domain of Contoso/);
    });

    it('a requested domain claimed by another connection since the request', async () => {
      const id = await create(['fabrikam.com']);
      await h.store.create('uniques', 'domain:fabrikam.com', 'domain:fabrikam.com', { kind: 'domain', value: 'fabrikam.com', connectionId: 'another-connection', claimedAt: 'then' });
      await expectRefused(id, people.fabrikamAdmin, 'domain_claimed', /fabrikam\.com is already claimed/);
      expect(await claimHolder(h.deps, 'tenant', 'fabrikam-tenant-id')).toBeUndefined();
    });

    it('a tenant with no custom domain left to claim', async () => {
      const id = await create();
      await h.store.create('uniques', 'domain:fabrikam.com', 'domain:fabrikam.com', { kind: 'domain', value: 'fabrikam.com', connectionId: 'another-connection', claimedAt: 'then' });
      await expectRefused(id, people.fabrikamAdmin, 'no_claimable_domains');
    });

    it('a re-consent from a tenant other than the connection tenant', async () => {
      const id = await create();
      expectOk(await consent(id, people.contosoAdmin));
      await expectRefused(id, people.fabrikamAdmin, 'tenant_mismatch', /belongs to tenant Contoso/);
      expect(h.deps.identity.caches.get(id)).toEqual(['contoso-admin.contoso-tenant-id']);
    });

    it('a tenant Graph will not describe with the granted permissions', async () => {
      await expectRefused(await create(), { tenantId: 'contoso-tenant-id', objectId: 'ghost', upn: 'ghost@contoso.com' }, 'tenant_unreadable', /403/);
    });

    it('a consent for a connection deleted meanwhile', async () => {
      const id = await create();
      const link = expectOk(await startConsent(h.deps, id));
      await h.store.delete('connections', id, id);
      h.deps.identity.codes.set('late', { tenantId: 'contoso-tenant-id', objectId: 'contoso-admin', upn: 'admin@contoso.com' });
      expect(expectErr(await completeConsent(h.deps, { code: 'late', state: stateOf(link.consentUrl) })).code).toBe('connection_not_found');
      expect(await claimHolder(h.deps, 'tenant', 'contoso-tenant-id')).toBeUndefined();
    });
  });

  describe('leaves no PKCE verifier behind', () => {
    const pkceSecrets = () => [...h.deps.secrets.values.keys()].filter((name) => name.startsWith('oauth-pkce-'));
    const nonceOf = (consentUrl: string) => (JSON.parse(Buffer.from(stateOf(consentUrl).split('.')[0]!, 'base64url').toString('utf8')) as { n: string }).n;

    it('when a callback comes after its link expired', async () => {
      const id = await create();
      const link = expectOk(await startConsent(h.deps, id));
      expect(pkceSecrets()).toContain(`oauth-pkce-${nonceOf(link.consentUrl)}`);
      h.deps.clock.advance(10 * 60 * 1000 + 1);
      expect(expectErr(await completeConsent(h.deps, { code: 'x', state: stateOf(link.consentUrl) })).code).toBe('state_expired');
      expect(pkceSecrets()).not.toContain(`oauth-pkce-${nonceOf(link.consentUrl)}`);
    });

    it('when links are abandoned: the next consent, or the sweep on the reconcile timer, removes the expired ones', async () => {
      const id = await create();
      for (let i = 0; i < 3; i += 1) expectOk(await startConsent(h.deps, id));
      expect(pkceSecrets()).toHaveLength(4);
      h.deps.clock.advance(10 * 60 * 1000 + 1);
      const next = expectOk(await startConsent(h.deps, id));
      expect(pkceSecrets()).toEqual([`oauth-pkce-${nonceOf(next.consentUrl)}`]);

      h.deps.clock.advance(5 * 60 * 1000);
      expect(await sweepAbandonedConsents(h.deps)).toBe(0);
      expect(pkceSecrets()).toHaveLength(1);
      h.deps.clock.advance(5 * 60 * 1000 + 1);
      expect(await sweepAbandonedConsents(h.deps)).toBe(1);
      expect(pkceSecrets()).toEqual([]);
      expect(expectErr(await completeConsent(h.deps, { code: 'x', state: stateOf(next.consentUrl) })).code).toBe('state_expired');
    });
  });

  it('renews an active connection, and restores a connection waiting for re-authorization to active', async () => {
    const id = await create();
    expectOk(await consent(id, people.contosoAdmin));
    h.deps.clock.advance(1000);
    expectOk(await consent(id, people.contosoSecondAdmin));
    expect(await record(id)).toMatchObject({ status: 'active', consentedBy: { upn: 'it@contoso.com' }, homeAccountId: 'contoso-admin-2.contoso-tenant-id', domains: ['contoso.com'] });

    const current = await h.store.get<ConnectionRecord>('connections', id, id);
    await h.store.replace('connections', id, id, { ...current!.data, status: 'reauthorization_required', reauthorization: { code: 'AADSTS50173', reason: 'revoked', at: 'then' } });
    expectOk(await consent(id, people.contosoAdmin));
    const restored = await record(id);
    expect(restored.status).toBe('active');
    expect(restored.reauthorization).toBeUndefined();
  });

  it('consents a de-authorized connection again, re-claiming its domains', async () => {
    const id = await create();
    expectOk(await consent(id, people.contosoAdmin));
    expectOk(await deauthorizeConnection(h.deps, id));
    expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBeUndefined();
    expectOk(await consent(id, people.contosoAdmin));
    expect(expectOk(await getConnection(h.deps, id))).toMatchObject({ status: 'active', domains: ['contoso.com'] });
    expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBe(id);
    expect(await claimHolder(h.deps, 'tenant', 'contoso-tenant-id')).toBe(id);
  });

  it('lets only one of two connections racing for the same tenant win', async () => {
    const [a, b] = [await create(), await create()];
    const results = await Promise.all([consent(a, people.contosoAdmin), consent(b, people.contosoSecondAdmin)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const loser = results[0]!.ok ? b : a;
    expect((await record(loser)).status).toBe('pending_consent');
    expect(h.deps.identity.caches.has(loser)).toBe(false);
  });

  it('undoes its claims when the secret store fails while the tokens are saved', async () => {
    const id = await create();
    h.deps.identity.onPersist = async () => {
      throw new Error('Key Vault unavailable');
    };
    await expect(consent(id, people.contosoAdmin)).rejects.toThrow('Key Vault unavailable');
    expect(await claims()).toEqual([]);
    expect((await record(id)).status).toBe('pending_consent');
  });

  it('gives way to a change of the connection made while the consent completes', async () => {
    const id = await create();
    h.deps.identity.onPersist = async () => {
      const doc = await h.store.get<ConnectionRecord>('connections', id, id);
      await h.store.replace('connections', id, id, { ...doc!.data, domains: ['contoso.onmicrosoft.com'] });
    };
    expect(expectErr(await consent(id, people.contosoAdmin)).code).toBe('connection_changed');
    expect(await claims()).toEqual([]);
    expect(h.deps.identity.caches.has(id)).toBe(false);
    expect((await record(id)).status).toBe('pending_consent');
  });

  it('logs refusals without the code or the state', async () => {
    const id = await create();
    const link = expectOk(await startConsent(h.deps, id));
    h.deps.identity.codes.set('secret-code-value', { tenantId: 'contoso-tenant-id', objectId: 'contoso-helpdesk', upn: 'helpdesk@contoso.com' });
    await completeConsent(h.deps, { code: 'secret-code-value', state: stateOf(link.consentUrl) });
    const text = JSON.stringify(h.deps.logger.lines);
    expect(text).toContain('not_global_admin');
    expect(text).not.toContain('secret-code-value');
    expect(text).not.toContain(stateOf(link.consentUrl));
  });
});
