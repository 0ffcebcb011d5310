import { consentStateLifetimeMs, consumeConsentState, issueConsentState } from '../../../src/domain/connections/consent-state';
import { expectErr, expectOk, startConnectionsHarness, type ConnectionsHarness } from './connections-harness';

describe('consent state', () => {
  let h: ConnectionsHarness;
  beforeEach(() => {
    h = startConnectionsHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('verifies once and names the connection and nonce', async () => {
    const issued = await issueConsentState(h.deps, 'conn-1');
    expect(expectOk(await consumeConsentState(h.deps, issued.state))).toEqual({ connectionId: 'conn-1', nonce: issued.nonce });
    expect(expectErr(await consumeConsentState(h.deps, issued.state)).code).toBe('state_used');
  });

  it('expires after 10 minutes', async () => {
    const issued = await issueConsentState(h.deps, 'conn-1');
    expect(issued.expiresAt.getTime() - h.deps.clock.ms).toBe(consentStateLifetimeMs);
    h.deps.clock.advance(consentStateLifetimeMs);
    expect(expectErr(await consumeConsentState(h.deps, issued.state)).code).toBe('state_expired');
  });

  it('refuses a state whose payload was altered (another connection id) or whose signature is wrong', async () => {
    const issued = await issueConsentState(h.deps, 'conn-1');
    const [payload, signature] = issued.state.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...decoded, c: 'conn-2' })).toString('base64url');
    expect(expectErr(await consumeConsentState(h.deps, `${forged}.${signature}`)).code).toBe('state_invalid');
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(expectErr(await consumeConsentState(h.deps, `${payload}.${flipped}`)).code).toBe('state_invalid');
    for (const junk of ['', 'abc', 'a.b.c', `${payload}.`, '.'.repeat(5000)]) expect(expectErr(await consumeConsentState(h.deps, junk)).code).toBe('state_invalid');
    // The genuine one still works: refusals consumed nothing.
    expect((await consumeConsentState(h.deps, issued.state)).ok).toBe(true);
  });

  it('signs with a key kept in the secret store, created once even by concurrent first uses', async () => {
    const states = await Promise.all([issueConsentState(h.deps, 'a'), issueConsentState(h.deps, 'b'), issueConsentState(h.deps, 'c')]);
    expect([...h.deps.secrets.values.keys()].filter((name) => name.includes('signing-key'))).toEqual(['oauth-state-signing-key']);
    for (const issued of states) expect((await consumeConsentState(h.deps, issued.state)).ok).toBe(true);
  });

  it('agrees on one key across hosts starting together (each with its own view of the stores)', async () => {
    const { secrets } = h.deps;
    const hostView = () => ({ get: (n: string) => secrets.get(n), set: (n: string, v: string, o?: { expiresAt?: Date }) => secrets.set(n, v, o), delete: (n: string) => secrets.delete(n), ping: () => secrets.ping() });
    const hosts = [{ ...h.deps, secrets: hostView() }, { ...h.deps, secrets: hostView() }, { ...h.deps, secrets: hostView() }];
    const issued = await Promise.all(hosts.map((deps, i) => issueConsentState(deps, `conn-${i}`)));
    // Each state verifies on another host than the one that issued it.
    for (const [i, state] of issued.entries()) expect((await consumeConsentState(hosts[(i + 1) % hosts.length]!, state.state)).ok).toBe(true);
  });

  it('refuses states signed with another key', async () => {
    const other = startConnectionsHarness();
    try {
      const foreign = await issueConsentState(other.deps, 'conn-1');
      expect(expectErr(await consumeConsentState(h.deps, foreign.state)).code).toBe('state_invalid');
    } finally {
      await other.close();
    }
  });

  it('lets exactly one of two racing callbacks with the same state through', async () => {
    const issued = await issueConsentState(h.deps, 'conn-1');
    const results = await Promise.all([consumeConsentState(h.deps, issued.state), consumeConsentState(h.deps, issued.state)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});
