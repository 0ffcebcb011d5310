import { scryptSync } from 'node:crypto';
import { createUser, getUser, setUserPassword, updateUser } from '../../../src/domain/directory/users';
import { expectErr, expectOk, startDirectoryHarness, type DirectoryHarness } from './directory-harness';

let h: DirectoryHarness;
beforeEach(() => {
  h = startDirectoryHarness({ passwordMinLength: 12 });
});
afterEach(() => h.close());

async function storedHash(userId: string): Promise<string | undefined> {
  return (await h.store.get<{ passwordHash?: string }>('users', userId, userId))?.data.passwordHash;
}

describe('setUserPassword', () => {
  it('stores only a salted scrypt hash of the password, then hands the password off and announces the change without it', async () => {
    const { value: user } = expectOk(await createUser(h.deps, { email: 'ada@example.com' }));
    const password = 'correct horse battery staple';
    expectOk(await setUserPassword(h.deps, user.id, password));

    const hash = (await storedHash(user.id))!;
    const [scheme, n, r, p, salt, key] = hash.split('$');
    expect(scheme).toBe('scrypt');
    expect(Buffer.from(salt!, 'base64url')).toHaveLength(16);
    const recomputed = scryptSync(password, Buffer.from(salt!, 'base64url'), 32, { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 });
    expect(recomputed.toString('base64url')).toBe(key);

    expect(h.deps.directoryHooks.handedOff).toEqual([{ userId: user.id, password }]);
    const change = h.deps.directoryHooks.changes.at(-1);
    expect(change).toMatchObject({ type: 'user.password_changed', userId: user.id });
    expect(JSON.stringify(h.deps.directoryHooks.changes)).not.toContain(password);
    expect(JSON.stringify(expectOk(await getUser(h.deps, user.id)))).not.toMatch(/scrypt|password/i);
  });

  it('salts each hash: one password set twice gives two hashes', async () => {
    const { value: user } = expectOk(await createUser(h.deps, { email: 'ada@example.com' }));
    expectOk(await setUserPassword(h.deps, user.id, 'a long enough password'));
    const first = await storedHash(user.id);
    expectOk(await setUserPassword(h.deps, user.id, 'a long enough password'));
    expect(await storedHash(user.id)).not.toBe(first);
  });

  it.each([
    ['too short', 'short', 'must be at least 12 characters'],
    ['the email in another case', 'Ada.Lovelace@Example.com', 'must not be the email address or its local part'],
    ['the local part', 'ADA.LOVELACE', 'must not be the email address or its local part'],
    ['the username', 'countess-of-lovelace', 'must not be the username'],
  ])('refuses a password that is %s and stores nothing', async (_case, password, reason) => {
    const { value: user } = expectOk(await createUser(h.deps, { email: 'ada.lovelace@example.com', username: 'Countess-of-Lovelace' }));
    expect(expectErr(await setUserPassword(h.deps, user.id, password))).toEqual({ code: 'password_rejected', reason });
    expect(await storedHash(user.id)).toBeUndefined();
    expect(h.deps.directoryHooks.handedOff).toEqual([]);
  });

  it('keeps the hash across profile changes and answers user_not_found for an unknown id', async () => {
    const { value: user } = expectOk(await createUser(h.deps, { email: 'ada@example.com' }));
    expectOk(await setUserPassword(h.deps, user.id, 'a long enough password'));
    const hash = await storedHash(user.id);
    expectOk(await updateUser(h.deps, user.id, { jobTitle: 'Analyst' }));
    expect(await storedHash(user.id)).toBe(hash);
    expect(expectErr(await setUserPassword(h.deps, 'nobody', 'a long enough password')).code).toBe('user_not_found');
  });
});
