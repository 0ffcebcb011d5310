import { connectionSettingsSchema, type ConnectionSettings } from '../../../src/domain/connections/connection';
import { bindUser, unbindUser } from '../../../src/domain/provisioning/bind-user';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { ReconcileHarness } from './reconcile-harness';

const day = 86_400_000;
const transient503 = { kind: 'transient', code: 'serviceNotAvailable', message: 'Service unavailable', throttled: false } as const;

describe('delete after a grace period, restore on rebind', () => {
  let h: ReconcileHarness;

  async function settings(change: Partial<ConnectionSettings>): Promise<void> {
    await h.setConnection(testConnectionId, { settings: { ...connectionSettingsSchema.parse({}), ...change } });
  }

  /** A provisioned user, unbound: the account is disabled from now on. */
  async function unboundAccount(): Promise<{ userId: string; m365UserId: string }> {
    const { user, m365UserId } = await h.provisioned();
    await unbindUser(h.deps, testConnectionId, user.id);
    await h.drain();
    expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(false);
    return { userId: user.id, m365UserId };
  }

  beforeEach(async () => {
    h = new ReconcileHarness();
    await h.addConnection();
    await settings({ deprovisionAction: 'disable_then_delete', deleteAfterDays: 30 });
  });

  it('deletes an account disabled for longer than deleteAfterDays, once, with one user_delete_provision', async () => {
    const { userId, m365UserId } = await unboundAccount();
    expect((await h.binding(userId))?.disabledAt).toBe(h.clock.now().toISOString());

    h.clock.advance(29 * day);
    expect((await h.reconcileOnce()).lifecycle).toMatchObject({ dueDeletions: 0 });
    await h.drain();
    expect(h.gateway.accounts.has(m365UserId)).toBe(true);

    h.clock.advance(1 * day);
    expect((await h.reconcileOnce()).lifecycle).toMatchObject({ dueDeletions: 1 });
    await h.drain();
    expect(h.gateway.accounts.has(m365UserId)).toBe(false);
    expect(h.gateway.deleted.has(m365UserId)).toBe(true);
    expect(await h.events('user_delete_provision')).toEqual([expect.objectContaining({ userId, m365UserId })]);
    expect(await h.binding(userId)).toMatchObject({ state: 'deprovisioned', m365UserId, deletedAt: h.clock.now().toISOString() });

    // Later runs leave it alone: no second delete, no nudge, nothing "missing".
    h.gateway.calls.length = 0;
    expect((await h.reconcileOnce({ forceFull: true })).lifecycle).toMatchObject({ dueDeletions: 0 });
    await h.drain();
    expect(h.gateway.calls.filter((c) => c.op === 'delete')).toHaveLength(0);
    expect(await h.events('user_delete_provision')).toHaveLength(1);
  });

  it('never deletes with the default deprovisionAction (disable)', async () => {
    await settings({});
    const { m365UserId } = await unboundAccount();
    h.clock.advance(365 * day);
    expect((await h.reconcileOnce()).lifecycle).toMatchObject({ dueDeletions: 0 });
    await h.drain();
    expect(h.gateway.accounts.has(m365UserId)).toBe(true);
  });

  it('re-enables the account of a user bound again within the grace period, and the clock starts over', async () => {
    const { userId, m365UserId } = await unboundAccount();
    h.clock.advance(20 * day);
    await bindUser(h.deps, testConnectionId, userId);
    await h.drain();
    expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(true);
    expect((await h.binding(userId))?.disabledAt).toBeUndefined();
    h.clock.advance(20 * day);
    expect((await h.reconcileOnce()).lifecycle).toMatchObject({ dueDeletions: 0 });
    expect(h.gateway.accounts.has(m365UserId)).toBe(true);
  });

  it('restores the deleted account with its object id when the user is bound again, as a create with restored: true', async () => {
    const { userId, m365UserId } = await unboundAccount();
    h.clock.advance(31 * day);
    await h.reconcileOnce();
    await h.drain();
    expect(h.gateway.deleted.has(m365UserId)).toBe(true);

    await bindUser(h.deps, testConnectionId, userId);
    await h.drain();
    expect(h.gateway.calls.filter((c) => c.op === 'create')).toHaveLength(1);
    expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(true);
    expect(await h.binding(userId)).toMatchObject({ state: 'provisioned', m365UserId });
    expect((await h.binding(userId))?.deletedAt).toBeUndefined();
    const creates = await h.events('user_create_provision');
    expect(creates).toHaveLength(2);
    expect(creates.filter((e) => e.restored === true)).toEqual([expect.objectContaining({ m365UserId })]);
  });

  it('creates a new account when Entra no longer has the deleted one', async () => {
    const { userId, m365UserId } = await unboundAccount();
    h.clock.advance(31 * day);
    await h.reconcileOnce();
    await h.drain();
    h.gateway.purge(m365UserId);

    await bindUser(h.deps, testConnectionId, userId);
    await h.drain();
    const binding = await h.binding(userId);
    expect(binding?.state).toBe('provisioned');
    expect(binding?.m365UserId).not.toBe(m365UserId);
    expect(h.gateway.accounts.get(binding?.m365UserId as string)?.accountEnabled).toBe(true);
    expect(h.gateway.calls.filter((c) => c.op === 'create')).toHaveLength(2);
    expect((await h.events('user_create_provision')).some((e) => e.restored === true)).toBe(false);
  });

  it('keeps the account of a suspended user deleted until the user is activated, then restores it', async () => {
    const { user, m365UserId } = await h.provisioned();
    await h.changeUser(user.id, { state: 'suspended' }, 'user.suspended');
    await h.drain();
    h.clock.advance(31 * day);
    await h.reconcileOnce();
    await h.drain();
    expect(h.gateway.deleted.has(m365UserId)).toBe(true);
    await h.reconcileOnce({ forceFull: true });
    await h.drain();
    expect(h.gateway.deleted.has(m365UserId)).toBe(true);

    await h.changeUser(user.id, { state: 'active' }, 'user.activated');
    await h.drain();
    expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(true);
  });

  it('records the delete once when the answer to the DELETE was lost', async () => {
    const { userId, m365UserId } = await unboundAccount();
    h.clock.advance(31 * day);
    h.gateway.failNext('delete', transient503, { afterApplying: true });
    await h.reconcileOnce();
    await h.drain();
    expect(h.gateway.deleted.has(m365UserId)).toBe(true);
    expect(await h.events('user_delete_provision')).toHaveLength(1);
    expect((await h.binding(userId))?.deletedAt).toBeDefined();
  });

  it('never deletes the account of the administrator who consented the connection', async () => {
    const { userId, m365UserId } = await unboundAccount();
    await h.setConnection(testConnectionId, { consentedBy: { objectId: m365UserId, upn: 'admin@contoso.com' } });
    h.clock.advance(31 * day);
    await h.reconcileOnce();
    await h.drain();
    expect(h.gateway.accounts.has(m365UserId)).toBe(true);
    expect((await h.binding(userId))?.note).toMatch(/never deleted/);
  });

  it('holds deletes above the mass-change guard like deactivations', async () => {
    await settings({ deprovisionAction: 'disable_then_delete', deleteAfterDays: 30, deactivationGuard: { maxUsers: 2, maxPercent: 100 } });
    const accounts: string[] = [];
    for (let i = 0; i < 2; i += 1) accounts.push((await unboundAccount()).m365UserId);
    h.clock.advance(2 * 3600_000);
    for (let i = 0; i < 2; i += 1) accounts.push((await unboundAccount()).m365UserId);
    h.clock.advance(31 * day);
    expect((await h.reconcileOnce()).lifecycle).toMatchObject({ dueDeletions: 4 });
    await h.drain();
    expect(accounts.filter((id) => h.gateway.deleted.has(id))).toHaveLength(0);
    const connection = await h.store.get<{ status: string; deactivationHold?: { count: number } }>('connections', testConnectionId, testConnectionId);
    expect(connection?.data.status).toBe('sync_paused');
    expect(connection?.data.deactivationHold?.count).toBe(4);
  });
});
