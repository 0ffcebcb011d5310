import { InvalidCursorError, type Condition } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { maxWriteAttempts, sameEtag, type ConditionalWrite, type CreateOptions, type DirectoryDeps, type Page, type Versioned } from './directory-deps';
import type { DirectoryFailure } from './directory-failures';
import type { UserField } from './directory-hooks';
import { newDirectoryId } from './directory-ids';
import { removeMembershipsOfUser } from './group-memberships';
import { hashPassword } from './password-hash';
import { checkPassword } from './password-policy';
import { claimOwner, claimUnique, emailClaim, holdsClaim, releaseClaim, usernameClaim, type ClaimKey, type HolderCheck } from './unique-claims';
import { readUser, toUser, type UserRecord } from './user-records';
import { userSchema, type CreateUserInput, type User, type UserPatch, type UserState } from './user-schemas';

export interface UserListQuery {
  readonly email?: string;
  /** Case-insensitive substring of first name, last name, display name, email or username. */
  readonly q?: string;
  readonly state?: UserState;
  readonly limit: number;
  readonly cursor?: string;
}

const searchFields = ['firstName', 'lastName', 'displayName', 'email', 'username'] as const;
const changeableFields = Object.keys(userSchema.shape).filter((field) => !['id', 'state', 'createdAt', 'updatedAt'].includes(field)) as UserField[];

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function localPart(email: string): string {
  return email.slice(0, email.lastIndexOf('@'));
}

function defaultDisplayName(user: Pick<User, 'firstName' | 'lastName' | 'username'>): string {
  return [user.firstName, user.lastName].filter((part) => part !== undefined).join(' ') || user.username;
}

function holdsEmail(deps: DirectoryDeps, email: string): HolderCheck {
  return async (ownerId) => (await readUser(deps, ownerId))?.data.email === email;
}

function holdsUsername(deps: DirectoryDeps, username: string): HolderCheck {
  return async (ownerId) => (await readUser(deps, ownerId))?.data.username.toLowerCase() === username.toLowerCase();
}

interface HeldValue {
  readonly key: ClaimKey;
  readonly failure: DirectoryFailure;
}

/** Claims each value in turn; on the first refusal releases what it took and returns that failure. */
async function claimAll(deps: DirectoryDeps, ownerId: string, values: readonly (HeldValue & { holds: HolderCheck })[]): Promise<Result<void, DirectoryFailure>> {
  const taken: ClaimKey[] = [];
  for (const value of values) {
    const claimed = await claimUnique(deps, value.key, ownerId, value.holds);
    if (!claimed.ok) {
      await releaseAll(deps, taken, ownerId);
      return err(value.failure);
    }
    taken.push(value.key);
  }
  return ok(undefined);
}

async function releaseAll(deps: DirectoryDeps, keys: readonly ClaimKey[], ownerId: string): Promise<void> {
  await Promise.all(keys.map((key) => releaseClaim(deps, key, ownerId)));
}

/** After its document is written an owner confirms its claims (see unique-claims.ts); the first one lost, if any. */
async function firstLostClaim(deps: DirectoryDeps, values: readonly HeldValue[], ownerId: string): Promise<HeldValue | undefined> {
  for (const value of values) {
    if (!(await holdsClaim(deps, value.key, ownerId))) return value;
  }
  return undefined;
}

function emailValue(deps: DirectoryDeps, email: string) {
  return { key: emailClaim(email), failure: { code: 'email_taken', email } as const, holds: holdsEmail(deps, email) };
}

function usernameValue(deps: DirectoryDeps, username: string) {
  return { key: usernameClaim(username), failure: { code: 'username_taken', username } as const, holds: holdsUsername(deps, username) };
}

async function checkManager(deps: DirectoryDeps, userId: string, managerId: string | undefined): Promise<Result<void, DirectoryFailure>> {
  if (managerId === undefined) return ok(undefined);
  if (managerId === userId) return err({ code: 'manager_is_self' });
  if ((await readUser(deps, managerId)) === undefined) return err({ code: 'manager_not_found', managerId });
  return ok(undefined);
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

/**
 * Creates a user. The email (and the username, which defaults to the email's local part) must be
 * free: `email_taken` / `username_taken` otherwise, also when two creates race.
 */
export async function createUser(deps: DirectoryDeps, input: CreateUserInput, options: CreateOptions = {}): Promise<Result<Versioned<User>, DirectoryFailure>> {
  const email = normalizeEmail(input.email);
  const username = input.username ?? localPart(email);
  const id = options.id ?? newDirectoryId(deps.clock);
  const manager = await checkManager(deps, id, input.managerId);
  if (!manager.ok) return manager;
  const now = deps.clock.now().toISOString();
  const record: UserRecord = withoutUndefined({
    ...input,
    id,
    email,
    username,
    displayName: input.displayName ?? defaultDisplayName({ ...input, username }),
    state: 'active' as const,
    createdAt: now,
    updatedAt: now,
  });
  const values = [emailValue(deps, email), usernameValue(deps, username)];
  const claimed = await claimAll(deps, id, values);
  if (!claimed.ok) return claimed;
  const created = await deps.store.create('users', id, id, record);
  if (!created.ok) throw new Error(`user id collision on ${id}`);
  const lost = await firstLostClaim(deps, values, id);
  if (lost !== undefined) {
    await deps.store.delete('users', id, id);
    await releaseAll(deps, values.map((value) => value.key), id);
    return err(lost.failure);
  }
  await deps.directoryHooks.onChange({ type: 'user.created', userId: id, email, occurredAt: now });
  return ok({ value: toUser(record), etag: created.value.etag });
}

export async function getUser(deps: DirectoryDeps, id: string): Promise<Result<Versioned<User>, DirectoryFailure>> {
  const doc = await readUser(deps, id);
  return doc === undefined ? err({ code: 'user_not_found', userId: id }) : ok({ value: toUser(doc.data), etag: doc.etag });
}

/** The user with this email (any case), found through its unique claim: two point reads. */
export async function findUserByEmail(deps: DirectoryDeps, email: string): Promise<Versioned<User> | undefined> {
  const normalized = normalizeEmail(email);
  const ownerId = await claimOwner(deps, emailClaim(normalized));
  if (ownerId === undefined) return undefined;
  const doc = await readUser(deps, ownerId);
  // A claim outlives its owner's email after an interrupted change or delete.
  return doc?.data.email === normalized ? { value: toUser(doc.data), etag: doc.etag } : undefined;
}

function matchesQuery(user: User, query: UserListQuery): boolean {
  if (query.state !== undefined && user.state !== query.state) return false;
  if (query.q === undefined) return true;
  const needle = query.q.toLowerCase();
  return searchFields.some((field) => user[field]?.toLowerCase().includes(needle) === true);
}

/** A page of users, oldest first. An `email` filter is answered from the email's claim, without a scan. */
export async function listUsers(deps: DirectoryDeps, query: UserListQuery): Promise<Result<Page<User>, DirectoryFailure>> {
  if (query.email !== undefined) {
    const found = await findUserByEmail(deps, query.email);
    return ok({ items: found !== undefined && matchesQuery(found.value, query) ? [found.value] : [] });
  }
  const where: Condition[] = [];
  if (query.state !== undefined) where.push({ field: 'state', op: 'eq', value: query.state });
  if (query.q !== undefined) where.push({ fields: searchFields, op: 'contains', value: query.q });
  try {
    const page = await deps.store.query<UserRecord>('users', { where, limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
    return ok({ items: page.items.map((doc) => toUser(doc.data)), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) });
  } catch (error) {
    if (error instanceof InvalidCursorError) return err({ code: 'invalid_cursor' });
    throw error;
  }
}

function applyPatch(current: UserRecord, patch: UserPatch): UserRecord {
  const next: Record<string, unknown> = { ...current };
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  const patched = next as unknown as UserRecord;
  // A display name that was the default follows name changes; `displayName: null` resets it to the default.
  const followsNames = patch.displayName === null || (patch.displayName === undefined && current.displayName === defaultDisplayName(current));
  return { ...patched, email: normalizeEmail(patched.email), ...(followsNames ? { displayName: defaultDisplayName(patched) } : {}) };
}

function changedUserFields(before: UserRecord, after: UserRecord): UserField[] {
  return changeableFields.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

/** What a change must claim anew (the new email or username) and release once written (the old ones). */
function claimChanges(deps: DirectoryDeps, before: UserRecord, after: UserRecord) {
  const claim: (HeldValue & { holds: HolderCheck })[] = [];
  const release: ClaimKey[] = [];
  if (after.email !== before.email) {
    claim.push(emailValue(deps, after.email));
    release.push(emailClaim(before.email));
  }
  if (after.username.toLowerCase() !== before.username.toLowerCase()) {
    claim.push(usernameValue(deps, after.username));
    release.push(usernameClaim(before.username));
  }
  return { claim, release };
}

/**
 * Applies a patch: given fields replace, `null` clears. Retries on a concurrent write unless the
 * caller pinned a version with `ifMatch`. A patch that changes nothing writes nothing and announces nothing.
 */
export async function updateUser(deps: DirectoryDeps, id: string, patch: UserPatch, options: ConditionalWrite = {}): Promise<Result<Versioned<User>, DirectoryFailure>> {
  for (let attempt = 1; attempt <= maxWriteAttempts; attempt++) {
    const current = await readUser(deps, id);
    if (current === undefined) return err({ code: 'user_not_found', userId: id });
    if (options.ifMatch !== undefined && !sameEtag(options.ifMatch, current.etag)) return err({ code: 'version_mismatch' });
    const proposed = applyPatch(current.data, patch);
    const changedFields = changedUserFields(current.data, proposed);
    if (changedFields.length === 0) return ok({ value: toUser(current.data), etag: current.etag });
    if (changedFields.includes('managerId')) {
      const manager = await checkManager(deps, id, proposed.managerId);
      if (!manager.ok) return manager;
    }
    if (changedFields.includes('email')) {
      const allowed = await deps.directoryHooks.checkEmailChange(toUser(current.data), proposed.email);
      if (!allowed.ok) return err({ code: 'email_change_refused', reason: allowed.error.reason });
    }
    const claims = claimChanges(deps, current.data, proposed);
    const claimed = await claimAll(deps, id, claims.claim);
    if (!claimed.ok) return claimed;
    const now = deps.clock.now().toISOString();
    const next: UserRecord = { ...proposed, updatedAt: now };
    const written = await deps.store.replace('users', id, id, next, { ifMatch: current.etag });
    if (!written.ok) {
      await releaseAll(deps, claims.claim.map((value) => value.key), id);
      if (written.error === 'not_found') return err({ code: 'user_not_found', userId: id });
      if (options.ifMatch !== undefined) return err({ code: 'version_mismatch' });
      continue;
    }
    const lost = await firstLostClaim(deps, claims.claim, id);
    if (lost !== undefined) {
      await deps.store.replace('users', id, id, current.data, { ifMatch: written.value.etag });
      await releaseAll(deps, claims.claim.map((value) => value.key), id);
      return err(lost.failure);
    }
    await releaseAll(deps, claims.release, id);
    await deps.directoryHooks.onChange({
      type: 'user.updated',
      userId: id,
      email: next.email,
      changedFields,
      ...(changedFields.includes('email') ? { previousEmail: current.data.email } : {}),
      occurredAt: now,
    });
    return ok({ value: toUser(next), etag: written.value.etag });
  }
  return err({ code: 'write_contention' });
}

/**
 * Read-modify-write of fields that need no claim, retried on concurrent writes. `change` returns
 * the new record, or undefined when there is nothing to do.
 */
async function modifyUser(
  deps: DirectoryDeps,
  id: string,
  options: ConditionalWrite,
  change: (current: UserRecord, now: string) => Result<UserRecord | undefined, DirectoryFailure>,
): Promise<Result<{ user: Versioned<User>; changed: boolean }, DirectoryFailure>> {
  for (let attempt = 1; attempt <= maxWriteAttempts; attempt++) {
    const current = await readUser(deps, id);
    if (current === undefined) return err({ code: 'user_not_found', userId: id });
    if (options.ifMatch !== undefined && !sameEtag(options.ifMatch, current.etag)) return err({ code: 'version_mismatch' });
    const next = change(current.data, deps.clock.now().toISOString());
    if (!next.ok) return next;
    if (next.value === undefined) return ok({ user: { value: toUser(current.data), etag: current.etag }, changed: false });
    const written = await deps.store.replace('users', id, id, next.value, { ifMatch: current.etag });
    if (written.ok) return ok({ user: { value: toUser(next.value), etag: written.value.etag }, changed: true });
    if (written.error === 'not_found') return err({ code: 'user_not_found', userId: id });
    if (options.ifMatch !== undefined) return err({ code: 'version_mismatch' });
  }
  return err({ code: 'write_contention' });
}

/** Suspends or reactivates a user; setting the state it already has changes nothing. */
export async function setUserState(deps: DirectoryDeps, id: string, state: UserState, options: ConditionalWrite = {}): Promise<Result<Versioned<User>, DirectoryFailure>> {
  const result = await modifyUser(deps, id, options, (current, now) => ok(current.state === state ? undefined : { ...current, state, updatedAt: now }));
  if (!result.ok) return result;
  const { user, changed } = result.value;
  if (changed) {
    await deps.directoryHooks.onChange({ type: state === 'suspended' ? 'user.suspended' : 'user.activated', userId: id, email: user.value.email, occurredAt: user.value.updatedAt });
  }
  return ok(user);
}

export interface PasswordDeps extends DirectoryDeps {
  readonly config: { readonly passwordMinLength: number };
}

/**
 * Checks the password against the policy, stores only its scrypt hash, then hands the clear text to
 * `directoryHooks.handOffPassword` (provisioning) and announces the change without it.
 */
export async function setUserPassword(deps: PasswordDeps, id: string, password: string): Promise<Result<void, DirectoryFailure>> {
  const existing = await readUser(deps, id);
  if (existing === undefined) return err({ code: 'user_not_found', userId: id });
  const policy = { minLength: deps.config.passwordMinLength };
  const early = checkPassword(password, existing.data, policy);
  if (!early.ok) return err({ code: 'password_rejected', reason: early.error });
  const passwordHash = await hashPassword(password);
  const result = await modifyUser(deps, id, {}, (current, now) => {
    // The email or username may have changed while hashing.
    const checked = checkPassword(password, current, policy);
    return checked.ok ? ok({ ...current, passwordHash, passwordChangedAt: now, updatedAt: now }) : err({ code: 'password_rejected', reason: checked.error });
  });
  if (!result.ok) return result;
  const user = result.value.user.value;
  await deps.directoryHooks.handOffPassword(id, password);
  await deps.directoryHooks.onChange({ type: 'user.password_changed', userId: id, email: user.email, occurredAt: user.updatedAt });
  return ok(undefined);
}

/**
 * Deletes a user: its document, then its claims (a claim left by a crash here is stale and taken
 * over later), its group memberships, and the manager reference of its reports.
 */
export async function deleteUser(deps: DirectoryDeps, id: string, options: ConditionalWrite = {}): Promise<Result<void, DirectoryFailure>> {
  let deletedRecord: UserRecord | undefined;
  for (let attempt = 1; attempt <= maxWriteAttempts && deletedRecord === undefined; attempt++) {
    const current = await readUser(deps, id);
    if (current === undefined) return err({ code: 'user_not_found', userId: id });
    if (options.ifMatch !== undefined && !sameEtag(options.ifMatch, current.etag)) return err({ code: 'version_mismatch' });
    const deleted = await deps.store.delete('users', id, id, { ifMatch: current.etag });
    if (deleted.ok) deletedRecord = current.data;
    else if (deleted.error === 'not_found') return err({ code: 'user_not_found', userId: id });
    else if (options.ifMatch !== undefined) return err({ code: 'version_mismatch' });
  }
  if (deletedRecord === undefined) return err({ code: 'write_contention' });
  await releaseAll(deps, [emailClaim(deletedRecord.email), usernameClaim(deletedRecord.username)], id);
  await removeMembershipsOfUser(deps, id);
  await clearManagerOfReports(deps, id);
  await deps.directoryHooks.onChange({ type: 'user.deleted', userId: id, email: deletedRecord.email, occurredAt: deps.clock.now().toISOString() });
  return ok(undefined);
}

async function clearManagerOfReports(deps: DirectoryDeps, managerId: string): Promise<void> {
  for (;;) {
    const reports = await deps.store.query<UserRecord>('users', { where: [{ field: 'managerId', op: 'eq', value: managerId }], limit: 100 });
    if (reports.items.length === 0) return;
    for (const report of reports.items) {
      const cleared = await updateUser(deps, report.id, { managerId: null });
      // A report deleted meanwhile needs nothing; anything else would make this loop spin.
      if (!cleared.ok && cleared.error.code !== 'user_not_found') throw new Error(`could not clear the manager of user ${report.id}: ${cleared.error.code}`);
    }
  }
}
