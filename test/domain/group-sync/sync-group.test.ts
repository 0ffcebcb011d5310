import { groupSyncMessage } from '../../../src/domain/group-sync/group-sync-nudges';
import { mailNicknameFor } from '../../../src/domain/group-sync/sync-group';
import type { QueuedMessage } from '../provisioning/provisioning-harness';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { GroupSyncHarness } from './group-sync-harness';

const throttled = (memberRetryAfterMs: number) => ({ kind: 'transient', code: 'TooManyRequests', message: 'Please retry again later.', throttled: true, retryAfterMs: memberRetryAfterMs }) as const;

describe('security-group sync', () => {
  let h: GroupSyncHarness;

  beforeEach(async () => {
    h = new GroupSyncHarness();
    await h.p.addConnection();
  });

  /** A bound group with `count` contoso members and one member from a domain the connection does not claim. */
  async function boundGroup(name = 'Research Team', count = 2) {
    const members = [];
    for (let i = 0; i < count; i += 1) members.push(await h.p.addUser());
    const outsider = await h.p.addUser({ email: 'visitor@fabrikam.com' });
    const group = await h.addGroup(name, [...members.map((m) => m.id), outsider.id], 'People who research');
    await h.bind(group.id);
    await h.drain();
    return { group, members, outsider };
  }

  it('binding a group creates a security group holding exactly the provisioned members, with one create and one membership event', async () => {
    const { group, members } = await boundGroup();
    const linked = await h.linkedGroup(group.id);
    expect(linked).toMatchObject({ displayName: 'Research Team', mailNickname: 'ResearchTeam', description: 'People who research', securityEnabled: true, mailEnabled: false });
    expect([...(linked?.members ?? [])].sort()).toEqual((await Promise.all(members.map((m) => h.accountOf(m.id)))).sort());
    expect(h.groups.live()).toHaveLength(1);
    const events = await h.groupEvents();
    expect(events.map((e) => e.type).sort()).toEqual(['group_create_provision', 'group_membership_provision']);
    expect(events.find((e) => e.type === 'group_create_provision')).toMatchObject({ groupId: group.id, m365GroupId: linked?.id, changedAttributes: ['description', 'displayName', 'mailEnabled', 'mailNickname', 'securityEnabled'] });
    expect(events.find((e) => e.type === 'group_membership_provision')).toMatchObject({ changedAttributes: ['members'], addedMembers: 2, removedMembers: 0 });
    expect(await h.record(group.id)).toMatchObject({ handledChangeSeq: expect.any(Number), attempts: 0, membersDigest: expect.any(String) });
  });

  it('adds members in batches of 20 round trips, and a member is added only once provisioned', async () => {
    const { group } = await boundGroup('Big Team', 45);
    const batches = h.groups.calls.filter((c) => c.op === 'changeMembers');
    expect(batches.map((c) => c.changes?.length)).toEqual([20, 20, 5]);
    expect((await h.linkedGroup(group.id))?.members.size).toBe(45);
    for (const batch of batches) {
      for (const change of batch.changes ?? []) expect(h.p.gateway.accounts.has(change.memberId)).toBe(true);
    }
  });

  it('takes over the one plain security group with the same name instead of creating one, and writes its description', async () => {
    const existing = h.groups.seed({ displayName: 'Finance', mailNickname: 'finance-old', description: null, members: ['stranger-1'] });
    h.groups.seed({ displayName: 'Finance', mailNickname: 'finance365', groupTypes: ['Unified'], mailEnabled: true });
    const member = await h.p.addUser();
    const group = await h.addGroup('Finance', [member.id], 'Money');
    await h.bind(group.id);
    await h.drain();

    expect((await h.record(group.id))?.m365GroupId).toBe(existing.id);
    expect(h.groups.count('createSecurityGroup')).toBe(0);
    expect(existing).toMatchObject({ displayName: 'Finance', mailNickname: 'finance-old', description: 'Money' });
    expect([...existing.members]).toEqual([await h.accountOf(member.id)]);
    const creates = await h.groupEvents('group_create_provision');
    expect(creates).toEqual([expect.objectContaining({ m365GroupId: existing.id, changedAttributes: ['description'] })]);
    // The stranger goes at once; the member joins once provisioned.
    expect((await h.groupEvents('group_membership_provision')).map((e) => [e.addedMembers, e.removedMembers]).sort()).toEqual([
      [0, 1],
      [1, 0],
    ]);
  });

  it('creates a new group when several existing groups match the name', async () => {
    h.groups.seed({ displayName: 'Ops', mailNickname: 'ops1' });
    h.groups.seed({ displayName: 'Other', mailNickname: 'Ops' });
    const group = await h.addGroup('Ops');
    await h.bind(group.id);
    await h.drain();
    expect(h.groups.count('createSecurityGroup')).toBe(1);
    expect(h.groups.live()).toHaveLength(3);
  });

  it('removes a member removed in the directory, and renames the group without touching its mailNickname', async () => {
    const { group, members } = await boundGroup();
    const [leaving, staying] = members as [(typeof members)[0], (typeof members)[0]];
    await h.removeMember(group.id, leaving.id);
    await h.renameGroup(group.id, 'Research & Development');
    await h.drain();

    const linked = await h.linkedGroup(group.id);
    expect([...(linked?.members ?? [])]).toEqual([await h.accountOf(staying.id)]);
    expect(linked).toMatchObject({ displayName: 'Research & Development', mailNickname: 'ResearchTeam' });
    expect(await h.groupEvents('group_update_provision')).toEqual([expect.objectContaining({ changedAttributes: ['displayName'] })]);
    expect((await h.groupEvents('group_membership_provision')).map((e) => [e.addedMembers, e.removedMembers])).toContainEqual([0, 1]);
  });

  it('takes a suspended member out and puts it back when re-activated', async () => {
    const { group, members } = await boundGroup();
    const member = members[0] as (typeof members)[0];
    const account = await h.accountOf(member.id);
    await h.suspend(member.id);
    await h.drain();
    expect((await h.linkedGroup(group.id))?.members.has(account)).toBe(false);
    await h.activate(member.id);
    await h.drain();
    expect((await h.linkedGroup(group.id))?.members.has(account)).toBe(true);
  });

  it('a burst of nudges costs one run: nudges a finished run covered are dropped without calling Graph', async () => {
    const { group } = await boundGroup();
    const calls = h.groups.calls.length;
    for (let i = 0; i < 10; i += 1) await h.renameGroup(group.id, `Name ${i}`);
    await h.drain();
    expect((await h.linkedGroup(group.id))?.displayName).toBe('Name 9');
    expect(h.groups.calls.slice(calls).filter((c) => c.op === 'get')).toHaveLength(1);
    expect(await h.groupEvents('group_update_provision')).toHaveLength(1);
  });

  it('a redelivered nudge records nothing twice', async () => {
    const { group } = await boundGroup();
    await h.renameGroup(group.id, 'Renamed');
    const message = h.p.queue.pending.find((m) => (m.body as { kind: string }).kind === 'group-sync') as QueuedMessage;
    await h.deliverGroupSync(message);
    await h.deliverGroupSync({ ...message, deliveryCount: 1 });
    expect(await h.groupEvents('group_update_provision')).toHaveLength(1);
    expect(h.groups.count('update')).toBe(1);
  });

  it('finishes a membership pass whose answer was lost under the same event, counting what the group holds', async () => {
    const members = [await h.p.addUser(), await h.p.addUser(), await h.p.addUser()];
    const group = await h.addGroup('Lost Answers', []);
    await h.bind(group.id);
    await h.drain();
    for (const m of members) {
      await h.store.create('memberships', group.id, m.id, { groupId: group.id, userId: m.id, addedAt: h.clock.now().toISOString() });
      await h.p.hooks.onChange({ type: 'group.member_added', groupId: group.id, userId: m.id, occurredAt: h.clock.now().toISOString() });
    }
    await h.drain();
    h.groups.failNext('changeMembers', undefined, { afterApplying: true });
    await h.announce({ type: 'group.updated', groupId: group.id, name: 'Lost Answers', changedFields: ['description'], occurredAt: h.clock.now().toISOString() });
    await h.drain();

    expect((await h.linkedGroup(group.id))?.members.size).toBe(3);
    expect(await h.groupEvents('group_membership_provision')).toEqual([expect.objectContaining({ addedMembers: 3, removedMembers: 0 })]);
    expect((await h.record(group.id))?.pendingMembers).toBeUndefined();
  });

  it("honours a throttled member change's Retry-After and adds the member afterwards, in the same event", async () => {
    const members = [await h.p.addUser(), await h.p.addUser()];
    const group = await h.addGroup('Throttled', members.map((m) => m.id));
    await h.bind(group.id);
    const second = members[1] as (typeof members)[0];
    let throttledAt: number | undefined;
    let retriedAt: number | undefined;
    const original = h.groups.changeMembers.bind(h.groups);
    h.groups.changeMembers = async (id, changes) => {
      if (throttledAt !== undefined) retriedAt ??= h.clock.ms;
      if (throttledAt === undefined && changes.length === 2) {
        throttledAt = h.clock.ms;
        h.groups.memberFailures.set(await h.accountOf(second.id), throttled(7_000));
      }
      return original(id, changes);
    };
    await h.drain();

    expect(retriedAt).toBeGreaterThanOrEqual((throttledAt as number) + 7_000);
    const rescheduled = h.p.queue.sent.find((m) => (m.body as { kind: string; hop: number }).kind === 'group-sync' && (m.body as { hop: number }).hop > 0 && m.scheduledEnqueueTime?.getTime() === (throttledAt as number) + 7_000);
    expect(rescheduled).toBeDefined();
    expect((await h.linkedGroup(group.id))?.members.size).toBe(2);
    expect(await h.groupEvents('group_membership_provision')).toEqual([expect.objectContaining({ addedMembers: 2 })]);
  });

  it('re-creates a group deleted in Microsoft 365, or records an error when the connection says so', async () => {
    const { group } = await boundGroup();
    const first = await h.linkedGroup(group.id);
    h.groups.deleteBehindBack(first?.id as string);
    await h.renameGroup(group.id, 'Comes Back');
    await h.drain();
    const second = await h.linkedGroup(group.id);
    expect(second?.id).not.toBe(first?.id);
    expect(second).toMatchObject({ displayName: 'Comes Back', members: new Set(first?.members) });
    expect(await h.groupEvents('group_create_provision')).toHaveLength(2);

    await h.p.setConnection(testConnectionId, { settings: { ...(await h.store.get<{ settings: object }>('connections', testConnectionId, testConnectionId))!.data.settings, deletedAccountPolicy: 'error' } as never });
    h.groups.deleteBehindBack(second?.id as string);
    await h.renameGroup(group.id, 'Stays Gone');
    await h.drain();
    expect(h.groups.live()).toHaveLength(0);
    expect((await h.record(group.id))?.lastError).toMatchObject({ code: 'M365_GROUP_DELETED' });
  });

  it('unbinding leaves the Microsoft 365 group by default and deletes it when the connection says so', async () => {
    const { group } = await boundGroup();
    const kept = await h.linkedGroup(group.id);
    await h.unbind(group.id);
    await h.drain();
    expect(await h.record(group.id)).toBeUndefined();
    expect(kept?.deleted).toBe(false);

    // Bound again (its nudges' ids must not collide with the first binding's): the group left behind is taken over.
    await h.bind(group.id);
    await h.drain();
    expect((await h.record(group.id))?.m365GroupId).toBe(kept?.id);

    await h.p.setConnection(testConnectionId, { settings: { ...(await h.store.get<{ settings: object }>('connections', testConnectionId, testConnectionId))!.data.settings, deleteGroupOnUnbind: true } as never });
    const other = await h.addGroup('Short Lived', []);
    await h.bind(other.id);
    await h.drain();
    const doomed = await h.linkedGroup(other.id);
    await h.unbind(other.id);
    await h.drain();
    expect(doomed?.deleted).toBe(true);
    expect(await h.record(other.id)).toBeUndefined();
  });

  it('waits without counting a failure while the connection needs re-consent, then carries on', async () => {
    await h.p.setConnection(testConnectionId, { status: 'reauthorization_required' });
    const group = await h.addGroup('Waiting', []);
    // Bound while active, then the grant broke.
    await h.p.setConnection(testConnectionId, { status: 'active' });
    await h.bind(group.id);
    await h.p.setConnection(testConnectionId, { status: 'reauthorization_required' });
    const message = h.p.queue.pending.find((m) => (m.body as { kind: string }).kind === 'group-sync') as QueuedMessage;
    const settled = await h.deliverGroupSync(message);
    expect(settled).toMatchObject({ kind: 'complete', detail: 'connection is reauthorization_required' });
    expect(h.groups.calls).toHaveLength(0);
    await h.p.setConnection(testConnectionId, { status: 'active' });
    await h.drain();
    expect(await h.linkedGroup(group.id)).toBeDefined();
    expect((await h.record(group.id))?.attempts).toBe(0);
  });

  it('dead-letters a message that is not a group-sync nudge', async () => {
    const settled = await h.deliverGroupSync({ ...groupSyncMessage({ kind: 'group-sync', connectionId: testConnectionId, groupId: 'g', incarnation: 'i', changeSeq: 1, reason: 'bind', hop: 0 }), body: { kind: 'group-sync', groupId: 'g' }, deliveryCount: 0 });
    expect(settled).toMatchObject({ kind: 'dead_letter', reason: expect.stringMatching(/^not a group-sync message: connectionId/) });
  });
});

describe('mailNicknameFor', () => {
  it('keeps what Graph accepts of the name, and falls back to the group id', () => {
    expect(mailNicknameFor({ id: 'g1', name: 'Sales & Marketing (EMEA)' })).toBe('Sales&MarketingEMEA');
    expect(mailNicknameFor({ id: 'g1', name: 'Équipe Café' })).toBe('EquipeCafe');
    expect(mailNicknameFor({ id: 'g1', name: '日本' })).toBe('group-g1');
    expect(mailNicknameFor({ id: 'g1', name: 'x'.repeat(80) })).toHaveLength(64);
  });
});
