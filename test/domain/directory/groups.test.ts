import { addGroupMember, listGroupMemberIds, listGroupMembers, listGroupsOfUser, removeGroupMember } from '../../../src/domain/directory/group-memberships';
import { createGroup, deleteGroup, findGroupByName, getGroup, listGroups, updateGroup } from '../../../src/domain/directory/groups';
import { createUser } from '../../../src/domain/directory/users';
import { expectErr, expectOk, startDirectoryHarness, type DirectoryHarness } from './directory-harness';

let h: DirectoryHarness;
beforeEach(() => {
  h = startDirectoryHarness();
});
afterEach(() => h.close());

async function newUser(email: string): Promise<string> {
  return expectOk(await createUser(h.deps, { email })).value.id;
}

describe('groups', () => {
  it('creates, reads, renames and clears a description, keeping names unique in any case', async () => {
    const { value: group } = expectOk(await createGroup(h.deps, { name: 'Engineers', description: 'Builders' }));
    expect(expectOk(await getGroup(h.deps, group.id)).value).toEqual(group);
    expect(expectErr(await createGroup(h.deps, { name: 'ENGINEERS' }))).toEqual({ code: 'group_name_taken', name: 'ENGINEERS' });

    const { value: renamed } = expectOk(await updateGroup(h.deps, group.id, { name: 'Engineering', description: null }));
    expect(renamed).toMatchObject({ name: 'Engineering' });
    expect(renamed.description).toBeUndefined();
    expect(h.deps.directoryHooks.changes.at(-1)).toMatchObject({ type: 'group.updated', changedFields: ['name', 'description'] });
    // The old name is free again, the new one is not.
    expectOk(await createGroup(h.deps, { name: 'engineers' }));
    expect(expectErr(await updateGroup(h.deps, group.id, { name: 'Engineers' })).code).toBe('group_name_taken');
    expect((await findGroupByName(h.deps, 'ENGINEERING'))?.value.id).toBe(group.id);
  });

  it('lists by exact name, by text, and in pages', async () => {
    for (const name of ['Alpha', 'Beta', 'Gamma', 'Alphabet']) {
      expectOk(await createGroup(h.deps, { name }));
      h.deps.clock.advance(1);
    }
    expect(expectOk(await listGroups(h.deps, { name: 'alpha', limit: 50 })).items.map((group) => group.name)).toEqual(['Alpha']);
    expect(expectOk(await listGroups(h.deps, { q: 'ALPH', limit: 50 })).items.map((group) => group.name)).toEqual(['Alpha', 'Alphabet']);
    const first = expectOk(await listGroups(h.deps, { limit: 2 }));
    const second = expectOk(await listGroups(h.deps, { limit: 2, cursor: first.nextCursor! }));
    expect([...first.items, ...second.items].map((group) => group.name)).toEqual(['Alpha', 'Beta', 'Gamma', 'Alphabet']);
  });
});

describe('memberships', () => {
  it('adds and removes members idempotently, announcing only real changes', async () => {
    const { value: group } = expectOk(await createGroup(h.deps, { name: 'Engineers' }));
    const userId = await newUser('ada@example.com');
    h.deps.directoryHooks.changes.length = 0;
    expect(expectOk(await addGroupMember(h.deps, group.id, userId))).toEqual({ added: true });
    expect(expectOk(await addGroupMember(h.deps, group.id, userId))).toEqual({ added: false });
    expect(await listGroupsOfUser(h.deps, userId)).toEqual([group.id]);
    expect(expectOk(await removeGroupMember(h.deps, group.id, userId))).toEqual({ removed: true });
    expect(expectOk(await removeGroupMember(h.deps, group.id, userId))).toEqual({ removed: false });
    expect(h.deps.directoryHooks.types()).toEqual(['group.member_added', 'group.member_removed']);
  });

  it('needs the group and the user to exist', async () => {
    const { value: group } = expectOk(await createGroup(h.deps, { name: 'Engineers' }));
    const userId = await newUser('ada@example.com');
    expect(expectErr(await addGroupMember(h.deps, 'nope', userId)).code).toBe('group_not_found');
    expect(expectErr(await addGroupMember(h.deps, group.id, 'nobody')).code).toBe('user_not_found');
    expect(expectErr(await removeGroupMember(h.deps, 'nope', userId)).code).toBe('group_not_found');
    expect(expectErr(await listGroupMembers(h.deps, 'nope', { limit: 10 })).code).toBe('group_not_found');
  });

  it('pages through members and deletes every membership of a deleted group, beyond one store page', async () => {
    const { value: group } = expectOk(await createGroup(h.deps, { name: 'Everyone' }));
    const { value: other } = expectOk(await createGroup(h.deps, { name: 'Others' }));
    const userIds: string[] = [];
    for (let i = 0; i < 1_100; i++) {
      const userId = await newUser(`user${i}@example.com`);
      userIds.push(userId);
      expectOk(await addGroupMember(h.deps, group.id, userId));
    }
    expectOk(await addGroupMember(h.deps, other.id, userIds[0]!));

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = expectOk(await listGroupMemberIds(h.deps, group.id, { limit: 500, ...(cursor === undefined ? {} : { cursor }) }));
      seen.push(...page.items.map((member) => member.userId));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen.sort()).toEqual([...userIds].sort());
    const users = expectOk(await listGroupMembers(h.deps, group.id, { limit: 2 }));
    expect(users.items.map((user) => user.id)).toEqual([...userIds].sort().slice(0, 2));
    expect(users.items[0]?.email).toMatch(/^user\d+@example\.com$/);

    expectOk(await deleteGroup(h.deps, group.id));
    expect(await h.store.count('memberships', { pk: group.id })).toBe(0);
    expect(await listGroupsOfUser(h.deps, userIds[0]!)).toEqual([other.id]);
    expect(h.deps.directoryHooks.changes.at(-1)).toMatchObject({ type: 'group.deleted', groupId: group.id, name: 'Everyone' });
    // The name is free again.
    expectOk(await createGroup(h.deps, { name: 'everyone' }));
  });

  it('does not report a group whose delete was interrupted before its memberships were swept', async () => {
    const { value: group } = expectOk(await createGroup(h.deps, { name: 'Engineers' }));
    const userId = await newUser('ada@example.com');
    expectOk(await addGroupMember(h.deps, group.id, userId));
    await h.store.delete('groups', group.id, group.id);
    expect(await listGroupsOfUser(h.deps, userId)).toEqual([]);
  });
});
