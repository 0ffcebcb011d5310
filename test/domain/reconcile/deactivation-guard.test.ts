import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { cancelledChangeCode, cancelledDeactivationCode, guardLimit } from '../../../src/domain/reconcile/deactivation-guard';
import { cancelDeactivations, confirmDeactivations, listHeldDeactivations } from '../../../src/domain/reconcile/held-deactivations';
import { setHold } from '../../../src/domain/reconcile/store-deactivation-guard';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { ReconcileHarness } from './reconcile-harness';

const guard = (maxUsers: number, maxPercent = 10) => ({ deactivationGuard: { maxUsers, maxPercent } });

describe('mass-deactivation guard', () => {
  let h: ReconcileHarness;

  const connection = async (): Promise<ConnectionRecord> => (await h.store.get<ConnectionRecord>('connections', testConnectionId, testConnectionId))?.data as ConnectionRecord;
  const enabled = (m365UserId: string) => h.gateway.accounts.get(m365UserId)?.accountEnabled;
  const heldDeps = () => ({ ...h.reconcile, store: h.store });

  async function suspendAll(users: { user: { id: string } }[]): Promise<void> {
    for (const { user } of users) await h.changeUser(user.id, { state: 'suspended' }, 'user.suspended');
    await h.drain();
  }

  /**
   * Sets users' last names in the directory without announcing it, and something else in Microsoft
   * 365 behind the service's back, then reconciles: the writes are a reconcile run's fan-out, which
   * the change guard counts (an announced edit of one user is not).
   */
  async function reconcileChanges(users: readonly { user: { id: string }; m365UserId: string }[], lastName: string): Promise<void> {
    await h.reconcileOnce();
    for (const { user, m365UserId } of users) {
      const doc = await h.store.get<Record<string, unknown>>('users', user.id, user.id);
      await h.store.upsert('users', user.id, user.id, { ...doc?.data, lastName, updatedAt: h.clock.now().toISOString() });
      (h.gateway.accounts.get(m365UserId) as Record<string, unknown>).surname = 'Changed in the portal';
    }
    await h.reconcileOnce();
    await h.drain();
  }

  async function provisionedUsers(count: number) {
    const users = [];
    for (let i = 0; i < count; i += 1) users.push(await h.provisioned());
    return users;
  }

  it('allows the smaller of maxUsers and maxPercent of the active bindings, the share never below 10', () => {
    expect(guardLimit({ maxUsers: 500, maxPercent: 10 }, 10_000)).toBe(500);
    expect(guardLimit({ maxUsers: 500, maxPercent: 10 }, 2_000)).toBe(200);
    expect(guardLimit({ maxUsers: 500, maxPercent: 10 }, 30)).toBe(10);
    expect(guardLimit({ maxUsers: 2, maxPercent: 10 }, 30)).toBe(2);
    expect(guardLimit({ maxUsers: 0, maxPercent: 10 }, 30)).toBe(0);
  });

  it('lets deactivations within the limit through once their burst has been counted', async () => {
    h = new ReconcileHarness();
    await h.addConnection({ settings: guard(3) });
    const users = await provisionedUsers(3);
    const start = h.clock.ms;
    await suspendAll(users);
    for (const { m365UserId } of users) expect(enabled(m365UserId)).toBe(false);
    expect(h.clock.ms - start).toBeGreaterThanOrEqual(2_000);
    expect(await h.events('user_deprovision')).toHaveLength(3);
    expect((await connection()).status).toBe('active');
  });

  it('counts the share against the users bound before the burst, not those left active', async () => {
    h = new ReconcileHarness();
    await h.addConnection({ settings: guard(500, 100) });
    const users = await provisionedUsers(20);
    await suspendAll(users);
    for (const { m365UserId } of users) expect(enabled(m365UserId)).toBe(false);
    expect((await connection()).status).toBe('active');
  });

  describe('a burst beyond the limit', () => {
    let users: { user: { id: string; email: string }; m365UserId: string }[];

    beforeEach(async () => {
      h = new ReconcileHarness();
      await h.addConnection({ settings: guard(2) });
      users = await provisionedUsers(5);
      await suspendAll(users.slice(0, 4));
    });

    it('deactivates nothing, pauses the connection with the count, and carries on with everything else', async () => {
      for (const { m365UserId } of users.slice(0, 4)) expect(enabled(m365UserId)).toBe(true);
      expect(await h.events('user_deprovision')).toHaveLength(0);
      expect(await connection()).toMatchObject({ status: 'sync_paused', deactivationHold: { count: 4 } });
      for (const { user } of users.slice(0, 4)) expect((await h.bindingDoc(user.id)).state).toBe('pending');
      const held = await listHeldDeactivations(h.reconcile, testConnectionId, { limit: 10 });
      expect(held).toMatchObject({ ok: true, value: { status: 'sync_paused', count: 4 } });

      const other = users[4] as (typeof users)[number];
      await h.changeUser(other.user.id, { lastName: 'Renamed' });
      await h.drain();
      expect(h.gateway.accounts.get(other.m365UserId)?.surname).toBe('Renamed');
      // More deactivations wait with the others.
      await suspendAll([other]);
      expect(enabled(other.m365UserId)).toBe(true);
      expect((await connection()).deactivationHold?.count).toBe(5);
    });

    it('deactivates them all once an admin confirms, and resumes the connection', async () => {
      const confirmed = await confirmDeactivations(heldDeps(), testConnectionId);
      expect(confirmed).toEqual({ ok: true, value: { status: 'active', released: 4 } });
      const resumed = await connection();
      expect(resumed.status).toBe('active');
      expect(resumed.deactivationHold).toBeUndefined();
      await h.drain();
      for (const { user, m365UserId } of users.slice(0, 4)) {
        expect(enabled(m365UserId)).toBe(false);
        expect((await h.bindingDoc(user.id)).state).toBe('deprovisioned');
      }
      expect(await h.events('user_deprovision')).toHaveLength(4);
      expect(await confirmDeactivations(heldDeps(), testConnectionId)).toMatchObject({ ok: false, error: { code: 'nothing_held' } });
    });

    it('stays active when a worker that held one of them pauses late, after the admin confirmed them all', async () => {
      expect(await confirmDeactivations(heldDeps(), testConnectionId)).toMatchObject({ ok: true, value: { status: 'active' } });
      // A holder still retrying its pause (its write lost a race) lands after the confirm's resume.
      expect(await setHold(heldDeps(), testConnectionId, 'pause')).toBe('active');
      const after = await connection();
      expect(after.status).toBe('active');
      expect(after.deactivationHold).toBeUndefined();
      await h.drain();
      for (const { m365UserId } of users.slice(0, 4)) expect(enabled(m365UserId)).toBe(false);
    });

    it('keeps the accounts enabled when an admin cancels, marks the bindings, and retries nothing', async () => {
      const cancelled = await cancelDeactivations(heldDeps(), testConnectionId);
      expect(cancelled).toEqual({ ok: true, value: { status: 'active', cancelled: 4 } });
      await h.drain();
      for (const { user, m365UserId } of users.slice(0, 4)) {
        expect(enabled(m365UserId)).toBe(true);
        expect((await h.bindingDoc(user.id))).toMatchObject({ state: 'error', lastError: { code: cancelledDeactivationCode } });
      }
      h.clock.advance(7 * 3600_000);
      expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 0, cancelled: 4 });
      await h.drain();
      for (const { m365UserId } of users.slice(0, 4)) expect(enabled(m365UserId)).toBe(true);

      // A later change of the user is acted on again.
      const first = users[0] as (typeof users)[number];
      await h.changeUser(first.user.id, { state: 'active' }, 'user.activated');
      await h.drain();
      expect((await h.bindingDoc(first.user.id)).state).toBe('provisioned');
    });

    it('pauses the connection again on the next run if it came back active with deactivations still held', async () => {
      await h.setConnection(testConnectionId, { status: 'active', deactivationHold: undefined });
      const report = await h.reconcileOnce();
      expect(report.heldDeactivations).toBe(4);
      expect(await connection()).toMatchObject({ status: 'sync_paused', deactivationHold: { count: 4 } });
    });
  });

  it('holds a run\'s corrections when they would deactivate more accounts than the limit', async () => {
    h = new ReconcileHarness();
    await h.addConnection({ settings: guard(5) });
    const users = await provisionedUsers(3);
    await suspendAll(users);
    await h.reconcileOnce();
    await h.setConnection(testConnectionId, { settings: { ...(await connection()).settings, ...guard(2) } });
    h.clock.advance(2 * 3600_000);
    // Someone re-enables the suspended accounts in the portal.
    for (const { m365UserId } of users) (h.gateway.accounts.get(m365UserId) as Record<string, unknown>).accountEnabled = true;

    const report = await h.reconcileOnce();
    expect(report.users).toMatchObject({ drifted: 3, nudged: 3 });
    await h.drain();

    for (const { m365UserId } of users) expect(enabled(m365UserId)).toBe(true);
    expect(await connection()).toMatchObject({ status: 'sync_paused', deactivationHold: { count: 3 } });
  });

  describe('writes to accounts beyond changeGuard', () => {
    let users: { user: { id: string; email: string }; m365UserId: string }[];
    const surname = (m365UserId: string) => h.gateway.accounts.get(m365UserId)?.surname;
    /** Bound too, but with nothing held. */
    let bystander: { user: { id: string }; m365UserId: string };

    beforeEach(async () => {
      h = new ReconcileHarness();
      await h.addConnection({ settings: { changeGuard: { maxUsers: 2, maxPercent: 10 } } });
      users = await provisionedUsers(5);
      bystander = await h.provisioned();
      await reconcileChanges(users, 'Renamed');
    });

    it('counts a reconcile run\'s burst whole: beyond the limit it holds every write with what it would set, and pauses the connection', async () => {
      expect(users.filter(({ m365UserId }) => surname(m365UserId) === 'Renamed')).toHaveLength(0);
      expect(await connection()).toMatchObject({ status: 'sync_paused', deactivationHold: { count: 5 } });
      const held = await listHeldDeactivations(h.reconcile, testConnectionId, { limit: 10 });
      expect(held.ok && held.value.items.map((i) => ({ change: i.change, attributes: i.attributes }))).toEqual(Array(5).fill({ change: 'update', attributes: ['surname'] }));
    });

    it('cancelling keeps the accounts as they are and marks the bindings CHANGE_CANCELLED', async () => {
      expect(await cancelDeactivations(heldDeps(), testConnectionId)).toEqual({ ok: true, value: { status: 'active', cancelled: 5 } });
      await h.drain();
      const kept = users.filter(({ m365UserId }) => surname(m365UserId) !== 'Renamed');
      expect(kept).toHaveLength(5);
      for (const { user } of kept) expect(await h.bindingDoc(user.id)).toMatchObject({ state: 'error', lastError: { code: cancelledChangeCode } });
    });

    it('confirming lets through a held write only as it was held: a user changed since is counted again', async () => {
      const held = users.filter(({ m365UserId }) => surname(m365UserId) !== 'Renamed');
      const changed = held[0] as (typeof held)[number];
      await h.setConnection(testConnectionId, { settings: { ...(await connection()).settings, changeGuard: { maxUsers: 0, maxPercent: 0 } } });
      expect(await confirmDeactivations(heldDeps(), testConnectionId)).toMatchObject({ ok: true, value: { released: 5 } });
      await reconcileChanges([changed], 'Changed again');
      for (const { m365UserId } of held.slice(1)) expect(surname(m365UserId)).toBe('Renamed');
      // Its new write is not the one confirmed: with a guard of 0 it is held again.
      expect(surname(changed.m365UserId)).not.toBe('Changed again');
      expect(surname(changed.m365UserId)).not.toBe('Renamed');
      expect(await connection()).toMatchObject({ status: 'sync_paused', deactivationHold: { count: 1 } });
    });

    it('does not count the edits of users whose nudges were lost and sent again by the safety net', async () => {
      expect(await confirmDeactivations(heldDeps(), testConnectionId)).toMatchObject({ ok: true, value: { status: 'active' } });
      await h.drain();
      // Three edits (more than the guard's 2) whose nudges never reach the queue.
      for (const { user } of users.slice(0, 3)) await h.changeUser(user.id, { lastName: 'Edited while the queue was down' });
      h.queue.loseAll();
      h.clock.advance(6 * 60_000);
      expect((await h.reconcileOnce()).safetyNet).toMatchObject({ stuck: 3 });
      await h.drain();
      for (const { m365UserId } of users.slice(0, 3)) expect(surname(m365UserId)).toBe('Edited while the queue was down');
      expect((await connection()).status).toBe('active');
    });

    it('does not count an edit of one user in the directory, even while paused; an edit that would carry a held write waits in its place', async () => {
      // A user with nothing held: the admin's edit lands while the connection is paused.
      await h.changeUser(bystander.user.id, { lastName: 'Edited' });
      await h.drain();
      expect(surname(bystander.m365UserId)).toBe('Edited');

      // Users whose reconcile writes are held: their edits would carry those along, so they wait with them.
      const edited = users.slice(0, 3);
      for (const { user } of edited) await h.changeUser(user.id, { firstName: 'Edith' });
      await h.drain();
      expect(users.map(({ m365UserId }) => surname(m365UserId))).toEqual(Array(5).fill('Changed in the portal'));
      expect(edited.map(({ m365UserId }) => h.gateway.accounts.get(m365UserId)?.givenName)).not.toContain('Edith');
      expect(await connection()).toMatchObject({ status: 'sync_paused', deactivationHold: { count: 5 } });
      const held = await listHeldDeactivations(h.reconcile, testConnectionId, { limit: 10 });
      const heldOf = new Map(held.ok ? held.value.items.map((i) => [i.userId, i.attributes]) : []);
      for (const { user } of edited) expect(heldOf.get(user.id)).toEqual(expect.arrayContaining(['surname', 'givenName']));

      // Confirming writes each as it now is: the held correction with the edit.
      expect(await confirmDeactivations(heldDeps(), testConnectionId)).toMatchObject({ ok: true, value: { status: 'active', released: 5 } });
      await h.drain();
      expect(users.map(({ m365UserId }) => surname(m365UserId))).toEqual(Array(5).fill('Renamed'));
      expect(edited.map(({ m365UserId }) => h.gateway.accounts.get(m365UserId)?.givenName)).toEqual(Array(3).fill('Edith'));
    });
  });
});
