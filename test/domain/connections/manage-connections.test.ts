import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { connectionSettingsSchema } from '../../../src/domain/connections/connection';
import { claimHolder } from '../../../src/domain/connections/connection-claims';
import { completeConsent, startConsent } from '../../../src/domain/connections/consent';
import { deauthorizeConnection } from '../../../src/domain/connections/deauthorize-connection';
import { createConnection, deleteConnection, getConnection, listConnections, updateConnection } from '../../../src/domain/connections/manage-connections';
import { err, ok } from '../../../src/domain/result';
import { expectErr, expectOk, people, startConnectionsHarness, stateOf, tenantDomain, tenants, type ConnectionsHarness, type Person } from './connections-harness';

const settings = connectionSettingsSchema.parse({});

describe('managing connections', () => {
  let h: ConnectionsHarness;
  beforeEach(() => {
    h = startConnectionsHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function create(domains: string[] = [], name = 'Connection'): Promise<string> {
    return expectOk(await createConnection(h.deps, { name, domains, settings })).id;
  }

  async function consented(who: Person, domains: string[] = []): Promise<string> {
    const id = await create(domains);
    const link = expectOk(await startConsent(h.deps, id));
    h.deps.identity.codes.set(`code-${id}`, { tenantId: who.tenant.tenantId, objectId: who.objectId, upn: who.upn });
    expectOk(await completeConsent(h.deps, { code: `code-${id}`, state: stateOf(link.consentUrl) }));
    return id;
  }

  async function record(id: string): Promise<ConnectionRecord> {
    return (await h.store.get<ConnectionRecord>('connections', id, id))!.data;
  }

  describe('create', () => {
    it('stores a pending connection with normalised domains and returns a consent URL', async () => {
      const created = expectOk(await createConnection(h.deps, { name: 'Contoso', domains: ['contoso.org', 'contoso.com'], settings }));
      expect(created).toMatchObject({ name: 'Contoso', status: 'pending_consent', domains: ['contoso.com', 'contoso.org'], settings });
      expect(created.consentUrl).toMatch(/^https:\/\/login\.example\/organizations\/oauth2\/v2\.0\/authorize\?state=/);
      expect(created.expiresAt).toBe(new Date(h.deps.clock.ms + 10 * 60 * 1000).toISOString());
      // Nothing is claimed before the tenant vouches for the domains.
      expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBeUndefined();
    });

    it('refuses a domain another connection already claims', async () => {
      const holder = await consented(people.contosoAdmin);
      expect(expectErr(await createConnection(h.deps, { name: 'Second', domains: ['contoso.com'], settings }))).toEqual({ code: 'conflict', field: 'domains', message: `the domain contoso.com is already claimed by connection ${holder}` });
      expect((await listConnections(h.deps, { limit: 10 })).items).toHaveLength(1);
    });

    it('never shows the consenting account key or any token', async () => {
      const id = await consented(people.contosoAdmin);
      const view = expectOk(await getConnection(h.deps, id));
      expect(view).not.toHaveProperty('homeAccountId');
      expect(JSON.stringify(view)).not.toContain('contoso-admin.contoso-tenant-id');
    });
  });

  describe('list', () => {
    it('pages oldest first and filters by status', async () => {
      const first = await consented(people.contosoAdmin);
      h.deps.clock.advance(1);
      const second = await create();
      h.deps.clock.advance(1);
      const third = await create();
      const page = await listConnections(h.deps, { limit: 2 });
      expect(page.items.map((c) => c.id)).toEqual([first, second]);
      expect((await listConnections(h.deps, { limit: 2, cursor: page.nextCursor! })).items.map((c) => c.id)).toEqual([third]);
      expect((await listConnections(h.deps, { limit: 10, status: 'pending_consent' })).items.map((c) => c.id)).toEqual([second, third]);
    });
  });

  describe('update', () => {
    it('changes name and settings, merging the settings given', async () => {
      const id = await create();
      const updated = expectOk(await updateConnection(h.deps, id, { name: 'Renamed', settings: { conflictPolicy: 'link', usageLocation: 'NL' } }));
      expect(updated).toMatchObject({ name: 'Renamed', settings: { ...settings, conflictPolicy: 'link', usageLocation: 'NL' } });
      expect(expectOk(await updateConnection(h.deps, id, { settings: { usageLocation: null } })).settings).toEqual({ ...settings, conflictPolicy: 'link' });
    });

    it('only records the domains of a pending connection, refusing ones claimed elsewhere', async () => {
      const holder = await consented(people.contosoAdmin);
      const id = await create();
      expect(expectOk(await updateConnection(h.deps, id, { domains: ['fabrikam.com'] })).domains).toEqual(['fabrikam.com']);
      expect(h.deps.tenants.domainReads).toEqual([]);
      expect(expectErr(await updateConnection(h.deps, id, { domains: ['contoso.com'] }))).toMatchObject({ code: 'conflict', message: expect.stringContaining(holder) });
    });

    it('verifies new domains of a consented connection in its tenant, claims them and releases dropped ones', async () => {
      const id = await consented(people.contosoAdmin);
      h.deps.tenants.domainsOf.set(id, ok([...tenants.contoso.domains, tenantDomain('contoso.de')]));
      expect(expectOk(await updateConnection(h.deps, id, { domains: ['contoso.de', 'contoso.onmicrosoft.com'] })).domains).toEqual(['contoso.de', 'contoso.onmicrosoft.com']);
      expect(await claimHolder(h.deps, 'domain', 'contoso.de')).toBe(id);
      expect(await claimHolder(h.deps, 'domain', 'contoso.onmicrosoft.com')).toBe(id);
      expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBeUndefined();
    });

    it('refuses unverified, federated or missing domains of a consented connection, changing nothing', async () => {
      const id = await consented(people.contosoAdmin);
      h.deps.tenants.domainsOf.set(id, ok([...tenants.contoso.domains, tenantDomain('sso.contoso.com', { authenticationType: 'Federated' })]));
      const before = await record(id);
      expect(expectErr(await updateConnection(h.deps, id, { domains: ['contoso.com', 'contoso.org'] }))).toMatchObject({ code: 'unprocessable', message: 'the domain contoso.org is not a verified domain of Contoso' });
      expect(expectErr(await updateConnection(h.deps, id, { domains: ['sso.contoso.com'] }))).toMatchObject({ code: 'unprocessable', message: expect.stringContaining('federated') });
      expect(expectErr(await updateConnection(h.deps, id, { domains: [] }))).toMatchObject({ code: 'unprocessable' });
      expect(await record(id)).toEqual(before);
      expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBe(id);
    });

    it('answers unavailable when the tenant cannot be read, and refuses while re-consent is needed', async () => {
      const id = await consented(people.contosoAdmin);
      h.deps.tenants.domainsOf.set(id, err({ code: 'unavailable', message: 'Graph 503' }));
      expect(expectErr(await updateConnection(h.deps, id, { domains: ['contoso.onmicrosoft.com'] })).code).toBe('unavailable');
      await h.store.replace('connections', id, id, { ...(await record(id)), status: 'reauthorization_required' });
      expect(expectErr(await updateConnection(h.deps, id, { domains: ['contoso.onmicrosoft.com'] })).code).toBe('unprocessable');
      // The name can still change.
      expect(expectOk(await updateConnection(h.deps, id, { name: 'Still editable' })).name).toBe('Still editable');
    });

    it('answers not_found for an unknown connection', async () => {
      expect(expectErr(await updateConnection(h.deps, 'nope', { name: 'x' })).code).toBe('not_found');
    });
  });

  describe('de-authorize', () => {
    async function bind(connectionId: string, ids: string[]): Promise<void> {
      for (const id of ids) {
        const binding = id.startsWith('group:')
          ? { kind: 'group', connectionId, groupId: id.slice('group:'.length) }
          : { kind: 'user', connectionId, userId: id, state: 'provisioned', via: { direct: true, groups: [] }, passwordPending: false };
        await h.store.create('bindings', connectionId, id, binding);
        // The one-connection claim of a user binding (see src/domain/provisioning/binding.ts).
        if (!id.startsWith('group:')) await h.store.create('uniques', `binding:${id}`, `binding:${id}`, { connectionId });
      }
    }

    it('removes tokens, claims and every binding, counting user bindings, and leaves other connections alone', async () => {
      const id = await consented(people.contosoAdmin);
      const other = await consented(people.fabrikamAdmin);
      const users = Array.from({ length: 450 }, (_, i) => `user-${i}`);
      await bind(id, [...users, 'group:g1', 'group:g2']);
      await bind(other, ['user-x']);
      h.deps.clock.advance(5000);

      expect(expectOk(await deauthorizeConnection(h.deps, id))).toEqual({ status: 'deauthorized', unboundUsers: 450 });
      expect(await h.store.count('bindings', { pk: id })).toBe(0);
      expect(await h.store.count('bindings', { pk: other })).toBe(1);
      // The users may be bound again elsewhere; the other connection's user keeps its claim.
      expect(await h.store.get('uniques', 'binding:user-0', 'binding:user-0')).toBeUndefined();
      expect(await h.store.get('uniques', 'binding:user-x', 'binding:user-x')).toBeDefined();
      expect(h.deps.identity.caches.has(id)).toBe(false);
      expect(h.deps.identity.caches.has(other)).toBe(true);
      expect(await claimHolder(h.deps, 'tenant', tenants.contoso.tenantId)).toBeUndefined();
      expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBeUndefined();
      const after = await record(id);
      expect(after).toMatchObject({ status: 'deauthorized', deauthorizedAt: h.deps.clock.now().toISOString(), tenantId: tenants.contoso.tenantId, domains: ['contoso.com'] });
      expect(after.homeAccountId).toBeUndefined();
      // No token was asked for: nothing reached Microsoft 365.
      expect(h.deps.identity.tokenRequests).toEqual([]);
    });

    it('is idempotent, and finishes an interrupted run', async () => {
      const id = await consented(people.contosoAdmin);
      expectOk(await deauthorizeConnection(h.deps, id));
      await bind(id, ['late-user']);
      expect(expectOk(await deauthorizeConnection(h.deps, id))).toEqual({ status: 'deauthorized', unboundUsers: 1 });
    });

    it('refuses a connection that was never authorized, and an unknown one', async () => {
      expect(expectErr(await deauthorizeConnection(h.deps, await create())).code).toBe('conflict');
      expect(expectErr(await deauthorizeConnection(h.deps, 'nope')).code).toBe('not_found');
    });
  });

  describe('delete', () => {
    it('refuses an active connection', async () => {
      const id = await consented(people.contosoAdmin);
      expect(expectErr(await deleteConnection(h.deps, id))).toMatchObject({ code: 'conflict', message: expect.stringContaining('de-authorize it') });
      expect((await record(id)).status).toBe('active');
    });

    it('deletes a pending or de-authorized connection with whatever it still holds', async () => {
      const pending = await create();
      expectOk(await deleteConnection(h.deps, pending));
      expect(expectErr(await getConnection(h.deps, pending)).code).toBe('not_found');

      const id = await consented(people.contosoAdmin);
      await h.store.replace('connections', id, id, { ...(await record(id)), status: 'reauthorization_required' });
      await h.store.create('bindings', id, 'user-1', { kind: 'user', connectionId: id, userId: 'user-1', state: 'provisioned', via: { direct: true, groups: [] }, passwordPending: false });
      expectOk(await deleteConnection(h.deps, id));
      expect(await h.store.count('bindings', { pk: id })).toBe(0);
      expect(await claimHolder(h.deps, 'tenant', tenants.contoso.tenantId)).toBeUndefined();
      expect(h.deps.identity.caches.has(id)).toBe(false);
      // The tenant can be connected again by a new connection.
      await consented(people.contosoAdmin);
    });
  });
});
