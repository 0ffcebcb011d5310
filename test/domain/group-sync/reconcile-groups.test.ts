import { groupsReconciler, reconcileGroups } from '../../../src/domain/group-sync/reconcile-groups';
import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { GroupSyncHarness } from './group-sync-harness';

describe('reconciling security groups', () => {
  let h: GroupSyncHarness;

  beforeEach(async () => {
    h = new GroupSyncHarness();
    await h.p.addConnection();
  });

  async function syncedGroup(name = 'Platform') {
    const members = [await h.p.addUser(), await h.p.addUser()];
    const group = await h.addGroup(name, members.map((m) => m.id));
    await h.bind(group.id);
    await h.drain();
    const linked = await h.linkedGroup(group.id);
    if (linked === undefined) throw new Error('not linked');
    return { group, members, linked };
  }

  const reconcile = (options = {}) => reconcileGroups(h.deps, testConnectionId, options);

  it('a group in step needs nothing: a full round first, then one incremental delta page', async () => {
    await syncedGroup();
    expect(await reconcile()).toMatchObject({ fullRound: true, deltaPages: 1, driftedGroups: 0, nudgedGroups: 0 });
    const pages = h.groups.count('deltaPage');
    expect(await reconcile()).toMatchObject({ fullRound: false, deltaPages: 1, driftedGroups: 0, nudgedGroups: 0 });
    expect(h.groups.count('deltaPage')).toBe(pages + 1);
    expect(h.p.queue.pending).toHaveLength(0);
  });

  it('our own writes in the delta are not drift', async () => {
    const { group, members } = await syncedGroup();
    await reconcile();
    await h.removeMember(group.id, (members[0] as (typeof members)[0]).id);
    await h.renameGroup(group.id, 'Platform Team');
    await h.drain();
    expect(await reconcile()).toMatchObject({ fullRound: false, driftedGroups: 0, nudgedGroups: 0 });
  });

  it('undoes membership and name changes made in Microsoft 365: the directory wins', async () => {
    const { group, members, linked } = await syncedGroup();
    await reconcile();
    const kept = await h.accountOf((members[0] as (typeof members)[0]).id);
    h.groups.addMemberBehindBack(linked.id, 'stranger');
    h.groups.removeMemberBehindBack(linked.id, kept);
    h.groups.renameBehindBack(linked.id, 'Renamed in Entra');

    expect(await reconcile()).toMatchObject({ fullRound: false, driftedGroups: 1, nudgedGroups: 1 });
    await h.drain();
    expect(linked.members.has('stranger')).toBe(false);
    expect(linked.members.has(kept)).toBe(true);
    expect(linked.displayName).toBe('Platform');
    expect((await h.groupEvents('group_membership_provision')).map((e) => [e.addedMembers, e.removedMembers])).toContainEqual([1, 1]);
    expect(await reconcile()).toMatchObject({ driftedGroups: 0, nudgedGroups: 0 });
    expect((await h.record(group.id))?.m365GroupId).toBe(linked.id);
  });

  it('a full round finds a stranger too, and a group deleted in Microsoft 365 is created again', async () => {
    const { group, linked } = await syncedGroup();
    h.groups.addMemberBehindBack(linked.id, 'stranger');
    expect(await reconcile()).toMatchObject({ fullRound: true, driftedGroups: 1 });
    await h.drain();
    expect(linked.members.has('stranger')).toBe(false);

    h.groups.deleteBehindBack(linked.id);
    expect(await reconcile()).toMatchObject({ fullRound: false, driftedGroups: 1 });
    await h.drain();
    const again = await h.linkedGroup(group.id);
    expect(again?.id).not.toBe(linked.id);
    expect(again?.members).toEqual(new Set([...linked.members]));
  });

  it('an expired delta link starts a full round over', async () => {
    await syncedGroup();
    await reconcile();
    h.groups.expireLinks = true;
    expect(await reconcile()).toMatchObject({ fullRound: true, deltaPages: 2, nudgedGroups: 0 });
    h.groups.expireLinks = false;
    expect(await reconcile({ fullResync: true })).toMatchObject({ fullRound: true, deltaPages: 1 });
  });

  it('the sweep catches what a lost nudge missed: members that changed in the directory, and a group left unbound', async () => {
    const { group, linked } = await syncedGroup();
    const newcomer = await h.p.addUser();
    // Membership announced to provisioning only (the group-sync nudge was lost): the member is provisioned, not added.
    await h.store.create('memberships', group.id, newcomer.id, { groupId: group.id, userId: newcomer.id, addedAt: h.clock.now().toISOString() });
    await h.p.hooks.onChange({ type: 'group.member_added', groupId: group.id, userId: newcomer.id, occurredAt: h.clock.now().toISOString() });
    await h.drain();
    expect(linked.members.has(await h.accountOf(newcomer.id))).toBe(false);

    expect(await reconcile()).toMatchObject({ nudgedGroups: 1, driftedGroups: 0 });
    await h.drain();
    expect(linked.members.has(await h.accountOf(newcomer.id))).toBe(true);

    await h.store.delete('bindings', testConnectionId, `group:${group.id}`);
    expect(await reconcile()).toMatchObject({ nudgedGroups: 1 });
    await h.drain();
    expect(await h.record(group.id)).toBeUndefined();
    expect(linked.deleted).toBe(false);
  });

  it('retries a failed group after a minute, doubling per failed attempt', async () => {
    const { group, linked } = await syncedGroup();
    await h.p.setConnection(testConnectionId, { settings: { ...(await h.store.get<ConnectionRecord>('connections', testConnectionId, testConnectionId))!.data.settings, deletedAccountPolicy: 'error' } });
    h.groups.deleteBehindBack(linked.id);
    await h.renameGroup(group.id, 'Gone');
    await h.drain();
    expect((await h.record(group.id))?.lastError?.code).toBe('M365_GROUP_DELETED');

    h.clock.advance(30_000);
    expect(await reconcile()).toMatchObject({ nudgedGroups: 0 });
    h.clock.advance(31_000);
    expect(await reconcile()).toMatchObject({ nudgedGroups: 1 });
    await h.drain();
    expect((await h.record(group.id))?.attempts).toBe(2);
    h.clock.advance(90_000);
    expect(await reconcile()).toMatchObject({ nudgedGroups: 0 });
    h.clock.advance(31_000);
    expect(await reconcile()).toMatchObject({ nudgedGroups: 1 });
  });

  it('skips a connection that waits for re-consent, and stops without nudging when the lease is lost', async () => {
    const { linked } = await syncedGroup();
    h.groups.addMemberBehindBack(linked.id, 'stranger');
    await h.p.setConnection(testConnectionId, { status: 'reauthorization_required' });
    expect(await reconcile()).toMatchObject({ skipped: 'reauthorization_required', nudgedGroups: 0 });
    expect(h.groups.count('deltaPage')).toBe(0);

    await h.p.setConnection(testConnectionId, { status: 'active' });
    const connection = (await h.store.get<ConnectionRecord>('connections', testConnectionId, testConnectionId))!.data;
    const lost = await groupsReconciler(h.deps)({ runId: 'r1', connection, forceFull: false, keepLease: async () => false });
    expect(lost).toBe('lease_lost');
    expect(h.p.queue.pending).toHaveLength(0);
    const report = await groupsReconciler(h.deps)({ runId: 'r2', connection, forceFull: false, keepLease: async () => true });
    expect(report).toEqual({ fullRound: true, deltaPages: 1, driftedGroups: 1, nudgedGroups: 1 });
  });
});
