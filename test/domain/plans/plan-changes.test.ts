import { addGroupMember } from '../../../src/domain/directory/group-memberships';
import { createGroup } from '../../../src/domain/directory/groups';
import { setUserState, updateUser } from '../../../src/domain/directory/users';
import { groupBindingId, type GroupBindingRecord, type UserBindingRecord } from '../../../src/domain/provisioning/binding';
import { planChange, type PlannedAccount, type PlanView } from '../../../src/domain/plans/plan-changes';
import { writeDigest } from '../../../src/domain/reconcile/deactivation-guard';
import { connectionId, ImportHarness } from '../import/import-harness';

/** A binding here as provisioning leaves it: bound directly, provisioned to `m365UserId` unless told. */
async function bind(h: ImportHarness, userId: string, fields: Partial<UserBindingRecord> = {}): Promise<void> {
  const at = h.clock.now().toISOString();
  const binding: UserBindingRecord = {
    kind: 'user',
    connectionId,
    userId,
    incarnation: `inc-${userId}`,
    state: 'provisioned',
    via: { direct: true, groups: [] },
    changeSeq: 1,
    handledChangeSeq: 1,
    attempts: 0,
    linkCount: 1,
    writeSeq: 0,
    passwordPending: false,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
  await h.inner.upsert('bindings', connectionId, userId, binding);
}

async function plan(h: ImportHarness, request: Parameters<typeof planChange>[2]): Promise<PlanView> {
  const planned = await planChange(h.deps, connectionId, request);
  if (!planned.ok) throw new Error(planned.error.message);
  return planned.value;
}

function managerOf(view: PlanView, userId: string): { entry: PlannedAccount | undefined; change: unknown } {
  const entry = view.accounts.find((a) => a.userId === userId);
  return { entry, change: entry?.changes.find((c) => c.attribute === 'manager') };
}

describe('plans: the manager link', () => {
  let h: ImportHarness;
  beforeEach(async () => {
    h = new ImportHarness();
    await h.addConnection();
  });

  /** A manager and a report, both bound and provisioned to accounts that hold what the directory says. */
  async function managerAndReport(reportBinding: Partial<UserBindingRecord> = {}) {
    const bossAccount = h.tenant.addPerson({ userPrincipalName: 'boss@contoso.com', displayName: 'boss' });
    const reportAccount = h.tenant.addPerson({ userPrincipalName: 'ann@contoso.com', displayName: 'ann' });
    const boss = await h.directoryUser('boss@contoso.com');
    const report = await h.directoryUser('ann@contoso.com', { managerId: boss });
    await bind(h, boss, { m365UserId: bossAccount.id });
    await bind(h, report, { m365UserId: reportAccount.id, ...reportBinding });
    return { boss, report, bossAccount, reportAccount };
  }

  it('turning on the manager rule plans the link to the manager\'s account, counted in the totals, with the digest the worker computes', async () => {
    const { boss, report, bossAccount } = await managerAndReport();
    const view = await plan(h, { settings: { exportAttributes: ['manager'] } });
    const { entry, change } = managerOf(view, report);
    expect(change).toEqual({ attribute: 'manager', from: null, to: bossAccount.id });
    expect(entry?.action).toBe('update');
    expect(managerOf(view, boss).entry).toBeUndefined();
    expect(view.totals.manager).toBe(1);
    // The worker's digest of this write: its attributes with the manager link (provision-user admitChange).
    const fromPlan = writeDigest(Object.fromEntries((entry?.changes ?? []).map((c) => [c.attribute, c.to])), false);
    expect(fromPlan).toBe(writeDigest({ manager: bossAccount.id }, false));
    expect(fromPlan).not.toBe(writeDigest({}, false));
  });

  it('plans nothing without the manager rule, nor for a link already written', async () => {
    const { report, bossAccount } = await managerAndReport();
    expect(managerOf(await plan(h, { reconcile: true }), report).change).toBeUndefined();
    await h.addConnection({ settings: { exportAttributes: ['manager'] } });
    await bind(h, report, { m365UserId: h.tenant.persons[1]?.id as string, managerM365Id: bossAccount.id });
    const view = await plan(h, { reconcile: true });
    expect(managerOf(view, report).entry).toBeUndefined();
    expect(view.totals.manager).toBe(0);
  });

  it('skips a manager that is not provisioned here, as the worker does', async () => {
    const boss = await h.directoryUser('boss@contoso.com');
    const reportAccount = h.tenant.addPerson({ userPrincipalName: 'ann@contoso.com', displayName: 'ann' });
    const report = await h.directoryUser('ann@contoso.com', { managerId: boss });
    await bind(h, report, { m365UserId: reportAccount.id });
    // Not bound here at all, then unbound from an account it still names.
    expect(managerOf(await plan(h, { settings: { exportAttributes: ['manager'] } }), report).entry).toBeUndefined();
    await bind(h, boss, { via: { direct: false, groups: [] }, state: 'deprovisioned', m365UserId: h.tenant.addPerson({ userPrincipalName: 'boss@contoso.com', displayName: 'boss', accountEnabled: false }).id });
    const view = await plan(h, { settings: { exportAttributes: ['manager'] } });
    expect(managerOf(view, report).entry).toBeUndefined();
    expect(view.totals.manager).toBe(0);
  });

  it('a manager removed in the directory removes the link written before, a blanked value', async () => {
    const { report, bossAccount, reportAccount } = await managerAndReport();
    await h.addConnection({ settings: { exportAttributes: ['manager'] } });
    await bind(h, report, { m365UserId: reportAccount.id, managerM365Id: bossAccount.id });
    const changed = await updateUser(h.deps, report, { managerId: null });
    expect(changed.ok).toBe(true);
    const { entry, change } = managerOf(await plan(h, { reconcile: true }), report);
    expect(change).toEqual({ attribute: 'manager', from: bossAccount.id, to: null });
    expect(entry?.warnings).toContain('blanks_value');
  });

  it('a bind of a report and its manager links the report to the account the manager is taken over with, or created as', async () => {
    await h.addConnection({ settings: { exportAttributes: ['manager'] } });
    const bossAccount = h.tenant.addPerson({ userPrincipalName: 'boss@contoso.com', displayName: 'boss' });
    const boss = await h.directoryUser('boss@contoso.com');
    const lead = await h.directoryUser('lead@contoso.com', { managerId: boss });
    const ann = await h.directoryUser('ann@contoso.com', { managerId: lead });
    const view = await plan(h, { bind: { userIds: [boss, lead, ann] } });
    expect(managerOf(view, boss).entry?.action).toBe('take_over');
    expect(managerOf(view, lead)).toMatchObject({ entry: { action: 'create' }, change: { attribute: 'manager', from: null, to: bossAccount.id } });
    expect(managerOf(view, ann)).toMatchObject({ entry: { action: 'create' }, change: { attribute: 'manager', from: null, to: 'lead@contoso.com' } });
    expect(view.totals.manager).toBe(2);
  });
});

describe('plans: group membership', () => {
  it('a group bind lists the members group sync would add to its Microsoft 365 group and the ones it would remove, read in list pages', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const group = await createGroup(h.deps, { name: 'Sales' });
    if (!group.ok) throw new Error('no group');
    const groupId = group.value.value.id;
    const annAccount = h.tenant.addPerson({ userPrincipalName: 'ann@contoso.com', displayName: 'ann' });
    const bobAccount = h.tenant.addPerson({ userPrincipalName: 'bob@contoso.com', displayName: 'bob' });
    const stranger = h.tenant.addPerson({ userPrincipalName: 'stranger@contoso.com' });
    const ann = await h.directoryUser('ann@contoso.com');
    const bob = await h.directoryUser('bob@contoso.com');
    const cleo = await h.directoryUser('cleo@contoso.com');
    const dana = await h.directoryUser('dana@contoso.com');
    await bind(h, ann, { m365UserId: annAccount.id });
    for (const member of [ann, bob, cleo, dana]) expect((await addGroupMember(h.deps, groupId, member)).ok).toBe(true);
    expect((await setUserState(h.deps, dana, 'suspended')).ok).toBe(true);
    // Imported from a Microsoft 365 group that holds ann already, and someone not in the directory group.
    const m365Group = h.tenant.addGroup({ displayName: 'Sales' }, [annAccount, stranger]);
    const at = h.clock.now().toISOString();
    const anchor: GroupBindingRecord = { kind: 'group', connectionId, groupId, expansion: 'bound', boundMembers: 0, skippedMembers: 0, m365GroupId: m365Group.id, createdAt: at, updatedAt: at };
    await h.inner.upsert('bindings', connectionId, groupBindingId(groupId), anchor);
    h.tenant.reads.length = 0;

    const view = await plan(h, { bind: { groupIds: [groupId] } });
    // bob is taken over, cleo created; dana is suspended; ann is there already.
    expect(view.memberships).toEqual([{ groupId, m365GroupId: m365Group.id, add: expect.arrayContaining([bobAccount.id, 'cleo@contoso.com']), remove: [stranger.id] }]);
    expect(view.totals).toMatchObject({ memberAdd: 2, memberRemove: 1 });
    expect(h.tenant.reads.filter((r) => r.startsWith('members'))).toEqual([`members ${m365Group.id} first`]);
    expect(view.graphReads.otherRequests).toBe(3);
    // Without a linked group, every member that belongs is added to the group that would be created.
    await h.inner.upsert('bindings', connectionId, groupBindingId(groupId), { ...anchor, m365GroupId: undefined });
    const created = (await plan(h, { bind: { groupIds: [groupId] } })).memberships;
    expect(created).toEqual([{ groupId, add: expect.arrayContaining([annAccount.id, bobAccount.id, 'cleo@contoso.com']), remove: [] }]);
    expect(created[0]?.add).toHaveLength(3);
    // A settings change plans no membership.
    expect((await plan(h, { settings: { exportAttributes: ['department'] } })).memberships).toEqual([]);
  });
});
