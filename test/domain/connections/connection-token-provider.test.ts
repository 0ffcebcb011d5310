import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { connectionSettingsSchema } from '../../../src/domain/connections/connection';
import { createConnectionTokenProvider } from '../../../src/domain/connections/connection-token-provider';
import { connectionsHealth } from '../../../src/domain/connections/connection-health';
import type { TokenProvider } from '../../../src/domain/connections/token-provider';
import { err, ok } from '../../../src/domain/result';
import { startConnectionsHarness, type ConnectionsHarness } from './connections-harness';

describe('connection token provider', () => {
  let h: ConnectionsHarness;
  let tokens: TokenProvider;

  beforeEach(() => {
    h = startConnectionsHarness();
    tokens = createConnectionTokenProvider(h.deps);
  });
  afterEach(async () => {
    await h.close();
  });

  async function seed(id: string, overrides: Partial<ConnectionRecord> = {}): Promise<void> {
    const now = h.deps.clock.now().toISOString();
    await h.store.create<ConnectionRecord>('connections', id, id, {
      id,
      name: id,
      status: 'active',
      domains: ['contoso.com'],
      settings: connectionSettingsSchema.parse({}),
      tenantId: 'tenant-1',
      tenantName: 'Contoso',
      consentedAt: '2026-01-01T00:00:00.000Z',
      homeAccountId: 'oid.tenant-1',
      createdAt: now,
      updatedAt: now,
      ...overrides,
    });
  }

  async function record(id: string): Promise<ConnectionRecord> {
    return (await h.store.get<ConnectionRecord>('connections', id, id))!.data;
  }

  it('hands out the cached token of an active connection for its account', async () => {
    await seed('c1');
    expect(await tokens.getAccessToken('c1')).toEqual(ok('access-token'));
    await tokens.getAccessToken('c1', { forceRefresh: true });
    expect(h.deps.identity.tokenRequests).toEqual([
      { account: { connectionId: 'c1', tenantId: 'tenant-1', homeAccountId: 'oid.tenant-1' }, forceRefresh: false },
      { account: { connectionId: 'c1', tenantId: 'tenant-1', homeAccountId: 'oid.tenant-1' }, forceRefresh: true },
    ]);
  });

  it('serves a paused connection too', async () => {
    await seed('c1', { status: 'sync_paused' });
    expect((await tokens.getAccessToken('c1')).ok).toBe(true);
  });

  it.each(['pending_consent', 'deauthorized'] as const)('answers not_connected for a %s connection without asking the authority', async (status) => {
    await seed('c1', { status });
    expect(await tokens.getAccessToken('c1')).toEqual(err(expect.objectContaining({ code: 'not_connected', status })));
    expect(h.deps.identity.tokenRequests).toEqual([]);
  });

  it('answers not_connected for a missing connection', async () => {
    expect(await tokens.getAccessToken('nope')).toEqual(err(expect.objectContaining({ code: 'not_connected', status: 'missing' })));
  });

  it.each(['AADSTS700082', 'AADSTS65001', 'AADSTS50173', 'AADSTS50057', 'token_cache_missing'])('moves the connection to reauthorization_required on %s, logs it at error level and reports it to health', async (code) => {
    await seed('c1');
    h.deps.identity.tokenOutcome = err({ kind: 'reauthorization_required', code, message: `${code}: the grant is gone` });
    h.deps.clock.advance(1000);
    expect(await tokens.getAccessToken('c1')).toEqual(err({ code: 'reauthorization_required', reason: code, message: expect.stringContaining(code) }));
    expect(await record('c1')).toMatchObject({ status: 'reauthorization_required', reauthorization: { code, reason: `${code}: the grant is gone`, at: h.deps.clock.now().toISOString() } });
    expect(h.deps.logger.lines.filter((l) => l.level === 'error')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ connectionId: 'c1', code }) })]);
    expect(await connectionsHealth(h.store, { read: async () => new Map() })).toMatchObject({ reauthorizationRequired: 1, items: [{ id: 'c1', name: 'c1', tenantId: 'tenant-1', status: 'reauthorization_required', reauthorization: { code, since: h.deps.clock.now().toISOString() } }] });

    // Work keeps waiting without asking the authority again, and without logging again.
    const asked = h.deps.identity.tokenRequests.length;
    expect(await tokens.getAccessToken('c1')).toEqual(err(expect.objectContaining({ code: 'reauthorization_required', reason: code })));
    expect(h.deps.identity.tokenRequests).toHaveLength(asked);
    expect(h.deps.logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it('treats a connection recording no account as needing re-consent', async () => {
    await seed('c1', { homeAccountId: undefined });
    expect(await tokens.getAccessToken('c1')).toEqual(err(expect.objectContaining({ code: 'reauthorization_required', reason: 'token_cache_missing' })));
    expect((await record('c1')).status).toBe('reauthorization_required');
  });

  it('changes nothing on a transient token endpoint failure', async () => {
    await seed('c1');
    const before = await record('c1');
    h.deps.identity.tokenOutcome = err({ kind: 'transient', message: 'ECONNRESET' });
    expect(await tokens.getAccessToken('c1')).toEqual(err({ code: 'transient', message: 'ECONNRESET' }));
    expect(await record('c1')).toEqual(before);
  });

  it('ignores a refusal of tokens from a consent that a newer consent has replaced', async () => {
    await seed('c1');
    const slow = createConnectionTokenProvider({
      ...h.deps,
      identity: {
        ...h.deps.identity,
        acquireToken: async () => {
          // A Global Administrator re-consents while the old grant is being refused.
          const current = await record('c1');
          await h.store.replace('connections', 'c1', 'c1', { ...current, consentedAt: '2026-02-02T10:00:00.000Z', homeAccountId: 'oid2.tenant-1' });
          return err({ kind: 'reauthorization_required', code: 'AADSTS50173', message: 'revoked' });
        },
      },
    });
    expect((await slow.getAccessToken('c1')).ok).toBe(false);
    expect((await record('c1')).status).toBe('active');
  });
});
