import { createUser, deleteUser, findUserByEmail, getUser, listUsers, setUserState, updateUser } from '../../../src/domain/directory/users';
import { addGroupMember, listGroupsOfUser } from '../../../src/domain/directory/group-memberships';
import { createGroup } from '../../../src/domain/directory/groups';
import { claimTakeoverAfterMs } from '../../../src/domain/directory/unique-claims';
import { expectErr, expectOk, startDirectoryHarness, type DirectoryHarness } from './directory-harness';

let h: DirectoryHarness;
beforeEach(() => {
  h = startDirectoryHarness();
});
afterEach(() => h.close());

const ada = { email: 'Ada.Lovelace@Example.com ', firstName: 'Ada', lastName: 'Lovelace' };

describe('createUser', () => {
  it('normalises the email, defaults username and display name, and announces the user', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expect(user).toMatchObject({ email: 'ada.lovelace@example.com', username: 'ada.lovelace', displayName: 'Ada Lovelace', state: 'active' });
    expect(user.createdAt).toBe(h.deps.clock.now().toISOString());
    expect(h.deps.directoryHooks.changes).toEqual([{ type: 'user.created', userId: user.id, email: 'ada.lovelace@example.com', occurredAt: user.createdAt }]);
  });

  it('refuses an email that exists in any case, and a taken username, keeping no stray claim', async () => {
    expectOk(await createUser(h.deps, ada));
    expect(expectErr(await createUser(h.deps, { email: 'ADA.LOVELACE@example.COM' }))).toEqual({ code: 'email_taken', email: 'ada.lovelace@example.com' });
    expect(expectErr(await createUser(h.deps, { email: 'other@example.com', username: 'Ada.Lovelace' }))).toMatchObject({ code: 'username_taken' });
    // The failed create released its email claim: the address is free.
    expectOk(await createUser(h.deps, { email: 'other@example.com' }));
  });

  it('needs an existing manager', async () => {
    expect(expectErr(await createUser(h.deps, { ...ada, managerId: 'nobody' }))).toEqual({ code: 'manager_not_found', managerId: 'nobody' });
    expect(await findUserByEmail(h.deps, ada.email)).toBeUndefined();
  });

  it('keeps no password material in what it returns', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expect(Object.keys(user).sort()).toEqual(['createdAt', 'displayName', 'email', 'firstName', 'id', 'lastName', 'state', 'updatedAt', 'username']);
  });
});

describe('stale unique claims', () => {
  async function plantStaleClaim(email: string, ownerId: string): Promise<void> {
    // What a create leaves when it crashes between its claim and its user document.
    await h.store.create('uniques', `email:${encodeURIComponent(email)}`, `email:${encodeURIComponent(email)}`, { kind: 'email', value: email, ownerId, claimedAt: h.deps.clock.now().toISOString() });
  }

  it('refuses a claim younger than the takeover age, then takes it over', async () => {
    await plantStaleClaim('grace@example.com', 'crashed-user');
    expect(expectErr(await createUser(h.deps, { email: 'grace@example.com' })).code).toBe('email_taken');
    h.deps.clock.advance(claimTakeoverAfterMs);
    const { value: user } = expectOk(await createUser(h.deps, { email: 'grace@example.com' }));
    expect((await findUserByEmail(h.deps, 'grace@example.com'))?.value.id).toBe(user.id);
  });

  it('never takes over a claim whose owner holds the email', async () => {
    expectOk(await createUser(h.deps, { email: 'grace@example.com' }));
    h.deps.clock.advance(claimTakeoverAfterMs * 10);
    expect(expectErr(await createUser(h.deps, { email: 'grace@example.com', username: 'grace2' })).code).toBe('email_taken');
  });

  it('treats a claim left behind by an email change as free once old enough', async () => {
    const { value: user } = expectOk(await createUser(h.deps, { email: 'grace@example.com' }));
    // An email change that crashed after writing the user, before releasing the old claim.
    await h.store.replace('users', user.id, user.id, { ...(await h.store.get<object>('users', user.id, user.id))!.data, email: 'grace.hopper@example.com' });
    expect(await findUserByEmail(h.deps, 'grace@example.com')).toBeUndefined();
    h.deps.clock.advance(claimTakeoverAfterMs);
    expectOk(await createUser(h.deps, { email: 'grace@example.com', username: 'grace2' }));
  });
});

describe('updateUser', () => {
  it('replaces given fields, clears null ones, and announces the changed field names', async () => {
    const { value: user } = expectOk(await createUser(h.deps, { ...ada, jobTitle: 'Analyst', phoneNumbers: [{ type: 'work', number: '+44 20 7946 0000' }] }));
    h.deps.clock.advance(1000);
    const { value: updated } = expectOk(await updateUser(h.deps, user.id, { jobTitle: null, department: 'Engines', phoneNumbers: [] }));
    expect(updated.jobTitle).toBeUndefined();
    expect(updated.department).toBe('Engines');
    expect(updated.phoneNumbers).toEqual([]);
    expect(updated.updatedAt).not.toBe(user.updatedAt);
    expect(h.deps.directoryHooks.changes.at(-1)).toMatchObject({ type: 'user.updated', changedFields: ['jobTitle', 'department', 'phoneNumbers'] });
  });

  it('writes and announces nothing for a patch that changes nothing', async () => {
    const { value: user, etag } = expectOk(await createUser(h.deps, ada));
    const same = expectOk(await updateUser(h.deps, user.id, { firstName: 'Ada', email: 'ADA.lovelace@example.com' }));
    expect(same.etag).toBe(etag);
    expect(h.deps.directoryHooks.types()).toEqual(['user.created']);
  });

  it('keeps a default display name in step with the names, but not a chosen one', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expect(expectOk(await updateUser(h.deps, user.id, { lastName: 'King' })).value.displayName).toBe('Ada King');
    expect(expectOk(await updateUser(h.deps, user.id, { displayName: 'Countess' })).value.displayName).toBe('Countess');
    expect(expectOk(await updateUser(h.deps, user.id, { firstName: 'Augusta' })).value.displayName).toBe('Countess');
    expect(expectOk(await updateUser(h.deps, user.id, { displayName: null })).value.displayName).toBe('Augusta King');
  });

  it('moves the email: the old address becomes free, the new one is taken, the change names the previous email', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expectOk(await updateUser(h.deps, user.id, { email: ' Ada@Example.com' }));
    expect(h.deps.directoryHooks.changes.at(-1)).toMatchObject({ type: 'user.updated', email: 'ada@example.com', previousEmail: 'ada.lovelace@example.com', changedFields: ['email'] });
    expect((await findUserByEmail(h.deps, 'ada@example.com'))?.value.id).toBe(user.id);
    expect(await findUserByEmail(h.deps, 'ada.lovelace@example.com')).toBeUndefined();
    expectOk(await createUser(h.deps, { email: 'ada.lovelace@example.com', username: 'someone' }));
    expect(expectErr(await updateUser(h.deps, user.id, { email: 'ada.lovelace@example.com' })).code).toBe('email_taken');
  });

  it('asks the hooks before changing an email and keeps it when refused', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    h.deps.directoryHooks.refuseEmailChanges = 'bound to another tenant';
    expect(expectErr(await updateUser(h.deps, user.id, { email: 'ada@elsewhere.org' }))).toEqual({ code: 'email_change_refused', reason: 'bound to another tenant' });
    expect(expectOk(await getUser(h.deps, user.id)).value.email).toBe('ada.lovelace@example.com');
    // The refused address was never claimed.
    expectOk(await createUser(h.deps, { email: 'ada@elsewhere.org', username: 'x' }));
  });

  it('changes the case of a username without a conflict with itself', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expect(expectOk(await updateUser(h.deps, user.id, { username: 'ADA.Lovelace' })).value.username).toBe('ADA.Lovelace');
    expect(expectErr(await createUser(h.deps, { email: 'x@example.com', username: 'ada.lovelace' })).code).toBe('username_taken');
  });

  it('checks the manager exists and is not the user itself', async () => {
    const { value: boss } = expectOk(await createUser(h.deps, { email: 'boss@example.com' }));
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expect(expectErr(await updateUser(h.deps, user.id, { managerId: user.id })).code).toBe('manager_is_self');
    expect(expectErr(await updateUser(h.deps, user.id, { managerId: 'ghost' })).code).toBe('manager_not_found');
    expect(expectOk(await updateUser(h.deps, user.id, { managerId: boss.id })).value.managerId).toBe(boss.id);
  });

  it('honours If-Match and retries a concurrent write without one', async () => {
    const { value: user, etag } = expectOk(await createUser(h.deps, ada));
    const { etag: newer } = expectOk(await updateUser(h.deps, user.id, { jobTitle: 'Analyst' }, { ifMatch: `"${etag}"` }));
    expect(expectErr(await updateUser(h.deps, user.id, { jobTitle: 'Poet' }, { ifMatch: etag })).code).toBe('version_mismatch');
    const results = await Promise.all(['A', 'B', 'C', 'D'].map((title) => updateUser(h.deps, user.id, { department: title })));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(newer).not.toBe(etag);
  });

  it('answers user_not_found for an unknown id', async () => {
    expect(expectErr(await updateUser(h.deps, 'nobody', { jobTitle: 'x' }))).toEqual({ code: 'user_not_found', userId: 'nobody' });
  });
});

describe('listUsers', () => {
  beforeEach(async () => {
    for (const [first, last, state] of [['Ada', 'Lovelace', 'active'], ['Grace', 'Hopper', 'suspended'], ['Alan', 'Turing', 'active'], ['Edsger', 'Dijkstra', 'active']] as const) {
      const { value } = expectOk(await createUser(h.deps, { email: `${first.toLowerCase()}@example.com`, firstName: first, lastName: last }));
      if (state === 'suspended') expectOk(await setUserState(h.deps, value.id, 'suspended'));
      h.deps.clock.advance(1);
    }
  });

  it('pages in creation order with an opaque cursor', async () => {
    const first = expectOk(await listUsers(h.deps, { limit: 3 }));
    expect(first.items.map((user) => user.firstName)).toEqual(['Ada', 'Grace', 'Alan']);
    const second = expectOk(await listUsers(h.deps, { limit: 3, cursor: first.nextCursor! }));
    expect(second.items.map((user) => user.firstName)).toEqual(['Edsger']);
    expect(second.nextCursor).toBeUndefined();
  });

  it('filters by exact email in any case, text and state', async () => {
    expect(expectOk(await listUsers(h.deps, { email: 'GRACE@example.com', limit: 50 })).items.map((user) => user.lastName)).toEqual(['Hopper']);
    expect(expectOk(await listUsers(h.deps, { email: 'grace@example.com', state: 'active', limit: 50 })).items).toEqual([]);
    expect(expectOk(await listUsers(h.deps, { q: 'TUR', limit: 50 })).items.map((user) => user.lastName)).toEqual(['Turing']);
    expect(expectOk(await listUsers(h.deps, { q: 'a', state: 'active', limit: 50 })).items.map((user) => user.firstName)).toEqual(['Ada', 'Alan', 'Edsger']);
  });

  it('refuses a cursor it did not issue', async () => {
    expect(expectErr(await listUsers(h.deps, { limit: 3, cursor: 'bogus' })).code).toBe('invalid_cursor');
  });
});

describe('setUserState', () => {
  it('suspends and reactivates once each, announcing only real changes', async () => {
    const { value: user } = expectOk(await createUser(h.deps, ada));
    expect(expectOk(await setUserState(h.deps, user.id, 'suspended')).value.state).toBe('suspended');
    expectOk(await setUserState(h.deps, user.id, 'suspended'));
    expectOk(await setUserState(h.deps, user.id, 'active'));
    expect(h.deps.directoryHooks.types()).toEqual(['user.created', 'user.suspended', 'user.activated']);
  });
});

describe('deleteUser', () => {
  it('frees the email and username, leaves its groups and clears it as a manager', async () => {
    const { value: boss } = expectOk(await createUser(h.deps, { email: 'boss@example.com' }));
    const { value: report } = expectOk(await createUser(h.deps, { ...ada, managerId: boss.id }));
    const { value: group } = expectOk(await createGroup(h.deps, { name: 'Engineers' }));
    expectOk(await addGroupMember(h.deps, group.id, boss.id));
    expectOk(await deleteUser(h.deps, boss.id));
    expect(expectErr(await getUser(h.deps, boss.id)).code).toBe('user_not_found');
    expect(await listGroupsOfUser(h.deps, boss.id)).toEqual([]);
    expect(expectOk(await getUser(h.deps, report.id)).value.managerId).toBeUndefined();
    expect(h.deps.directoryHooks.changes.slice(-3).map((change) => change.type)).toEqual(['group.member_removed', 'user.updated', 'user.deleted']);
    expectOk(await createUser(h.deps, { email: 'boss@example.com' }));
    expect(expectErr(await deleteUser(h.deps, boss.id)).code).toBe('user_not_found');
  });
});
