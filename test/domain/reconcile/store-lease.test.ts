import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import { leaseHolder, StoreLease } from '../../../src/domain/reconcile/store-lease';
import { ManualClock } from '../../support/manual-clock';

describe('store lease', () => {
  const clock = new ManualClock(Date.parse('2025-03-01T09:00:00.000Z'));
  const store = new SqliteDocumentStore(openDatabase(':memory:'), { clock });
  const deps = { store, clock };
  let n = 0;
  const name = () => `reconcile:conn-${(n += 1)}`;

  it('refuses a second claimant while held, naming the holder and the expiry', async () => {
    const lease = name();
    const first = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    expect(first.ok).toBe(true);
    const second = await StoreLease.acquire(deps, lease, 'run-b', 60_000);
    expect(second).toEqual({ ok: false, error: { code: 'lease_held', owner: 'run-a', expiresAt: new Date(clock.ms + 60_000).toISOString() } });
    expect(await leaseHolder(deps, lease)).toEqual({ owner: 'run-a', expiresAt: new Date(clock.ms + 60_000).toISOString() });
  });

  it('is free again once released', async () => {
    const lease = name();
    const first = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    if (!first.ok) throw new Error('not acquired');
    await first.value.release();
    expect((await StoreLease.acquire(deps, lease, 'run-b', 60_000)).ok).toBe(true);
  });

  it('released with a time not yet reached, stays held until then', async () => {
    const lease = name();
    const first = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    if (!first.ok) throw new Error('not acquired');
    await first.value.release({ notBeforeMs: clock.ms + 1_000 });
    expect((await StoreLease.acquire(deps, lease, 'run-b', 60_000)).ok).toBe(false);
    clock.advance(1_000);
    expect((await StoreLease.acquire(deps, lease, 'run-b', 60_000)).ok).toBe(true);
  });

  it('lets a holder that died be replaced after expiry; the old holder then finds it lost', async () => {
    const lease = name();
    const dead = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    if (!dead.ok) throw new Error('not acquired');
    clock.advance(59_000);
    expect((await StoreLease.acquire(deps, lease, 'run-b', 60_000)).ok).toBe(false);
    clock.advance(1_000);
    expect(await leaseHolder(deps, lease)).toBeUndefined();
    const next = await StoreLease.acquire(deps, lease, 'run-b', 60_000);
    expect(next.ok).toBe(true);
    expect(await dead.value.keep()).toBe(false);
    // Releasing a lost lease leaves the new holder's in place.
    await dead.value.release();
    expect((await leaseHolder(deps, lease))?.owner).toBe('run-b');
  });

  it('renews once half of it has run out, keeping competitors away', async () => {
    const lease = name();
    const held = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    if (!held.ok) throw new Error('not acquired');
    clock.advance(20_000);
    expect(await held.value.keep()).toBe(true);
    expect(held.value.expiresAt).toBe(new Date(clock.ms + 40_000).toISOString());
    clock.advance(20_000);
    expect(await held.value.keep()).toBe(true);
    expect(held.value.expiresAt).toBe(new Date(clock.ms + 60_000).toISOString());
    clock.advance(50_000);
    expect((await StoreLease.acquire(deps, lease, 'run-b', 60_000)).ok).toBe(false);
  });

  it('is claimed again by the owner holding it, whose earlier handle then finds it lost', async () => {
    const lease = name();
    const requested = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    if (!requested.ok) throw new Error('not acquired');
    clock.advance(10_000);
    const picked = await StoreLease.acquire(deps, lease, 'run-a', 60_000);
    if (!picked.ok) throw new Error('not claimed again');
    expect(picked.value.expiresAt).toBe(new Date(clock.ms + 60_000).toISOString());
    expect((await StoreLease.acquire(deps, lease, 'run-b', 60_000)).ok).toBe(false);
    expect(await requested.value.keep(true)).toBe(false);
    expect(await picked.value.keep(true)).toBe(true);
  });

  it('lets exactly one of many simultaneous claimants win', async () => {
    const lease = name();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => StoreLease.acquire(deps, lease, `run-${i}`, 60_000)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});
