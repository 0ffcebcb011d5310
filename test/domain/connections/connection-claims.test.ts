import { claim, claimDomains, claimHolder, release } from '../../../src/domain/connections/connection-claims';
import { startConnectionsHarness, type ConnectionsHarness } from './connections-harness';

describe('connection claims', () => {
  let h: ConnectionsHarness;
  beforeEach(() => {
    h = startConnectionsHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('gives a claim to one connection, again to the same one, and never to another', async () => {
    expect(await claim(h.deps, 'tenant', 'T1', 'a')).toEqual({ ok: true, value: { created: true } });
    expect(await claim(h.deps, 'tenant', 't1', 'a')).toEqual({ ok: true, value: { created: false } });
    expect(await claim(h.deps, 'tenant', 'T1', 'b')).toEqual({ ok: false, error: { holder: 'a' } });
    expect(await claimHolder(h.deps, 'tenant', 't1')).toBe('a');
  });

  it('releases only a claim the connection holds', async () => {
    await claim(h.deps, 'domain', 'contoso.com', 'a');
    await release(h.deps, 'domain', 'contoso.com', 'b');
    expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBe('a');
    await release(h.deps, 'domain', 'contoso.com', 'a');
    expect(await claimHolder(h.deps, 'domain', 'contoso.com')).toBeUndefined();
  });

  it('claims a set of domains all or nothing, keeping claims held before', async () => {
    await claim(h.deps, 'domain', 'kept.com', 'a');
    await claim(h.deps, 'domain', 'taken.com', 'b');
    expect(await claimDomains(h.deps, ['kept.com', 'new.com', 'taken.com'], 'a')).toEqual({ ok: false, error: { domain: 'taken.com', holder: 'b' } });
    expect(await claimHolder(h.deps, 'domain', 'new.com')).toBeUndefined();
    expect(await claimHolder(h.deps, 'domain', 'kept.com')).toBe('a');
    expect(await claimDomains(h.deps, ['kept.com', 'new.com'], 'a')).toEqual({ ok: true, value: ['new.com'] });
  });

  it('lets exactly one of many racing connections claim a domain', async () => {
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((id) => claim(h.deps, 'domain', 'race.com', id)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});
