import { directoryCommandSchema, runDirectoryCommand, type DirectoryCommand } from '../../../src/domain/directory/directory-commands';
import { listGroupMemberIds } from '../../../src/domain/directory/group-memberships';
import { findGroupByName } from '../../../src/domain/directory/groups';
import { findUserByEmail } from '../../../src/domain/directory/users';
import { expectErr, expectOk, startDirectoryHarness, type DirectoryHarness } from './directory-harness';

let h: DirectoryHarness;
beforeEach(() => {
  h = startDirectoryHarness();
});
afterEach(() => h.close());

let sequence = 0;
function run(body: unknown, messageId = `m${++sequence}`) {
  return runDirectoryCommand(h.deps, messageId, directoryCommandSchema.parse(body) as DirectoryCommand);
}

describe('directoryCommandSchema', () => {
  it.each([
    [{ command: 'user.upsert', user: { email: 'not-an-email' } }, ['user', 'email']],
    [{ command: 'user.upsert', user: { email: 'a@example.com', shoeSize: 9 } }, ['user']],
    [{ command: 'user.suspend' }, ['email']],
    [{ command: 'user.suspend', email: 'a@example.com', userId: 'u1' }, ['email']],
    [{ command: 'group.member.add', groupName: 'G', groupId: 'g1', email: 'a@example.com' }, ['groupName']],
    [{ command: 'user.rename' }, ['command']],
  ])('refuses %j, naming the field', (body, path) => {
    const parsed = directoryCommandSchema.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(path);
  });
});

describe('runDirectoryCommand', () => {
  it('upserts a user by email: creates it, then patches only the given fields', async () => {
    expect(expectOk(await run({ command: 'user.upsert', user: { email: 'Ada@Example.com', firstName: 'Ada', jobTitle: 'Analyst' } }))).toBe('applied');
    expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com', department: 'Engines' } }));
    const user = (await findUserByEmail(h.deps, 'ada@example.com'))!.value;
    expect(user).toMatchObject({ firstName: 'Ada', jobTitle: 'Analyst', department: 'Engines' });
    expect(h.deps.directoryHooks.types()).toEqual(['user.created', 'user.updated']);
  });

  it('applies a redelivered message once, even after a newer change', async () => {
    expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com', jobTitle: 'Analyst' } }, 'first'));
    expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com', jobTitle: 'Engineer' } }, 'second'));
    expect(expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com', jobTitle: 'Analyst' } }, 'first'))).toBe('duplicate');
    expect((await findUserByEmail(h.deps, 'ada@example.com'))!.value.jobTitle).toBe('Engineer');
    // The mark lasts 7 days.
    const mark = await h.store.get('state', 'directory-commands:processed', 'message:first');
    expect(mark?.expiresAt).toBe(h.deps.clock.now().getTime() + 7 * 24 * 3600 * 1000);
  });

  it('suspends, activates and deletes by email or id; deleting a missing user is done', async () => {
    expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com' } }));
    const id = (await findUserByEmail(h.deps, 'ada@example.com'))!.value.id;
    expectOk(await run({ command: 'user.suspend', email: 'ADA@example.com' }));
    expect((await findUserByEmail(h.deps, 'ada@example.com'))!.value.state).toBe('suspended');
    expectOk(await run({ command: 'user.activate', userId: id }));
    expectOk(await run({ command: 'user.delete', email: 'ada@example.com' }));
    expect(await findUserByEmail(h.deps, 'ada@example.com')).toBeUndefined();
    expect(expectOk(await run({ command: 'user.delete', userId: id }))).toBe('applied');
  });

  it('asks for a retry when the target does not exist yet', async () => {
    expect(expectErr(await run({ command: 'user.suspend', email: 'later@example.com' }))).toEqual({ retry: true, reason: 'user later@example.com not found' });
    expect(expectErr(await run({ command: 'group.member.add', groupName: 'Admins', email: 'later@example.com' })).retry).toBe(true);
  });

  it('fails for good when the change conflicts with another user', async () => {
    expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com', username: 'ada' } }));
    expect(expectErr(await run({ command: 'user.upsert', user: { email: 'other@example.com', username: 'ADA' } }))).toEqual({ retry: false, reason: 'user.username: ADA is already used by another user' });
  });

  it('upserts groups by name and manages members by name and email', async () => {
    expectOk(await run({ command: 'user.upsert', user: { email: 'ada@example.com' } }));
    expectOk(await run({ command: 'group.upsert', group: { name: 'Admins' } }));
    expectOk(await run({ command: 'group.upsert', group: { name: 'ADMINS', description: 'People who administer' } }));
    const group = (await findGroupByName(h.deps, 'admins'))!.value;
    expect(group).toMatchObject({ name: 'ADMINS', description: 'People who administer' });
    expectOk(await run({ command: 'group.member.add', groupName: 'admins', email: 'ada@example.com' }));
    expectOk(await run({ command: 'group.member.add', groupId: group.id, email: 'ada@example.com' }));
    expect(expectOk(await listGroupMemberIds(h.deps, group.id, { limit: 10 })).items).toHaveLength(1);
    expectOk(await run({ command: 'group.member.remove', groupName: 'Admins', email: 'ada@example.com' }));
    expect(expectOk(await listGroupMemberIds(h.deps, group.id, { limit: 10 })).items).toHaveLength(0);
    expect(expectOk(await run({ command: 'group.member.remove', groupName: 'Nobody', email: 'ada@example.com' }))).toBe('applied');
  });
});
